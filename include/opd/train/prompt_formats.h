// A recipe's prompt formats (data/prompt_format.h): each model directory's
// tokenizer, the chat template the recipe names for it, the system prompt and
// thinking switch; and what the student and the teacher disagree on.
#pragma once

#include "opd/data/prompt_format.h"
#include "opd/model/model_config.h"
#include "opd/train/train_config.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace opd::train {

// The format of `model` (its tokenizer when the directory has one). Throws
// naming `key`.chat_template when a template is named but the directory has
// no tokenizer, or the name is unknown.
data::PromptFormat load_prompt_format(const ModelSpec& model, const DataConfig& data, const std::string& key);

// Which of the recipe's teachers reads prompts of `domain`: "teachers.<domain>"
// when `teachers` lists it, else "teacher" (the default) when the recipe has
// one; "" when neither does.
std::string teacher_key(const TrainConfig& config, const std::string& domain);

// The format of each of the recipe's teachers, by teacher_key.
std::map<std::string, data::PromptFormat> load_teacher_formats(const TrainConfig& config);

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
