// A recipe's prompt formats (data/prompt_format.h): each model directory's
// tokenizer, its chat template (its own, or the one the recipe names), the
// system prompt and thinking switch; and what the student and the teacher
// disagree on.
#pragma once

#include "opd/data/prompt_format.h"
#include "opd/model/model_config.h"
#include "opd/train/train_config.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace opd::train {

// `chat_template: none`: text prompts are joined as plain text even when
// the model ships a template.
inline constexpr const char* kPlainText = "none";

// The format of `model` (its tokenizer when the directory has one): with
// chat_template "" the directory's own Jinja template (plain text when it
// has none), a name or file from configs/chat_templates, or kPlainText.
// Throws naming `key`.chat_template when a template is named but the
// directory has no tokenizer, the name is unknown, or the model's template
// uses a construct outside the supported Jinja subset (its file and line).
data::PromptFormat load_prompt_format(const ModelSpec& model, const DataConfig& data, const std::string& key);

// What is wrong with a model's config.json EOS ids for its tokenizer: ids
// that are not special tokens of it (opd-make-tiny's old default 1 is '"'
// in Qwen3's vocabulary: replies would end at every quote), or that it does
// not have. Empty when all are special, or the format has no tokenizer.
std::vector<std::string> eos_problems(const std::vector<int64_t>& eos_ids, const data::PromptFormat& format);

// Warns naming `who` and `path`, once for each of eos_problems.
void warn_about_eos(const std::vector<int64_t>& eos_ids, const data::PromptFormat& format, const std::string& who,
                    const std::string& path);

// Which of the recipe's teachers reads prompts of `domain`: "teachers.<domain>"
// when `teachers` lists it, else "teacher" (the default) when the recipe has
// one; "" when neither does.
std::string teacher_key(const TrainConfig& config, const std::string& domain);

// The format of each of the recipe's teachers, by teacher_key.
std::map<std::string, data::PromptFormat> load_teacher_formats(const TrainConfig& config);

// How prompts are rendered for the student and each teacher (by
// teacher_key): chat template, system prompt, thinking switch, and the ids of
// a probe conversation, which another tokenizer or template also changes.
// opd-prepare stores it in an .h5 (PromptDataset::made_with); a run compares
// it with its own (check_format_record). JSON text.
std::string format_record(const data::PromptFormat& student, const std::map<std::string, data::PromptFormat>& teachers);

// Throws naming `path`, the model and what differs when a model of both
// records has another entry in `current` than in `recorded`.
void check_format_record(const std::string& recorded, const std::string& current, const std::string& path);

// Ways the teacher would read the student's ids differently: vocabulary
// size, special tokens and end-of-turn ids behind different text, or (when
// the teacher has a chat format) turns it does not end where the student
// does. eos ids are each model's config.json EOS ids. Empty when either has
// no tokenizer.
std::vector<std::string> format_disagreements(const data::PromptFormat& student,
                                              const std::vector<int64_t>& student_eos,
                                              const data::PromptFormat& teacher,
                                              const std::vector<int64_t>& teacher_eos);

}  // namespace opd::train
