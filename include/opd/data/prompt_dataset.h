// The problems a run trains or evaluates on. A JSONL line holds one, as text
// or as token ids:
//   {"prompt": "Solve ..."}                       a user message
//   {"messages": [{"role": "system", ...}, ...]}  a conversation
//   {"prompt": [{"role": "user", ...}, ...]}      a conversation (TRL's conversational form)
//   {"prompt_ids": [151644, 872, ...]}            ids, used as they are
// with optional "answer" (the reference final answer, for verifiers),
// "solution" (a reference worked solution: SFT targets, OPSD / TRD context;
// also read from TRL's "completion", a text or one assistant message, and
// from a conversation's last turn when it is the assistant's, which then is
// not part of the prompt),
// "response_ids" (the solution as ids) and "domain" (e.g. "math": routes
// multi-teacher runs, groups evaluation). Text is rendered and tokenized
// once, at load time, in the student's format and, when it differs, the
// format of the prompt's teacher. An .h5 file is the same data
// pre-tokenized by opd-prepare.
#pragma once

#include "opd/data/prompt_format.h"
#include "opd/tokenizer/chat_template.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace opd::data {

struct Prompt {
  std::vector<int64_t> ids;           // what the student reads
  std::vector<int64_t> teacher_ids;   // what the teacher reads, when it differs (else empty)
  std::vector<int64_t> response_ids;  // the reference solution's ids; empty when none
  std::vector<tokenizer::ChatMessage> messages;  // the conversation (text lines; else empty)
  std::string answer;    // reference final answer; "" when none
  std::string solution;  // reference worked solution text; "" when none
  std::string domain;    // "" when none
  int64_t line = 0;      // 1-based line in the source file (row + 1 for .h5)

  // The teacher's prompt ids: teacher_ids, or ids when the two read alike.
  const std::vector<int64_t>& teacher_prompt() const { return teacher_ids.empty() ? ids : teacher_ids; }
};

// The format the teacher of a prompt's domain reads text in; nullptr for
// none (it reads the student's ids).
using TeacherFormatOf = std::function<const PromptFormat*(const std::string& domain)>;

class PromptDataset {
 public:
  // Reads a .jsonl or .h5 file. Text lines need `student` (and are also
  // rendered in their teacher's format when `teacher` gives one). Throws
  // naming the file and line on malformed JSON, a line with none (or more
  // than one) of prompt / messages / prompt_ids, a wrongly typed field, or
  // text without a tokenizer.
  static PromptDataset from_file(const std::string& path, const PromptFormat* student = nullptr,
                                 const TeacherFormatOf& teacher = {});
  // `progress(bytes read, file size)`, when given, is called after each row.
  static PromptDataset from_jsonl(const std::string& path, const PromptFormat* student = nullptr,
                                  const TeacherFormatOf& teacher = {},
                                  const std::function<void(int64_t, int64_t)>& progress = {});
  static PromptDataset from_prompts(std::vector<Prompt> prompts, std::string path = "");
  // Only each problem's answer, domain and line (no prompt is rendered or
  // tokenized): for scoring answers generated elsewhere.
  static PromptDataset answers_from_file(const std::string& path);

  int64_t size() const { return static_cast<int64_t>(prompts_.size()); }
  const Prompt& operator[](int64_t i) const { return prompts_.at(static_cast<size_t>(i)); }
  const std::vector<Prompt>& prompts() const { return prompts_; }
  // The file the prompts came from ("" for from_prompts).
  const std::string& path() const { return path_; }
  // Throws when a prompt or response id is outside [0, vocab_size), naming the line.
  void check_vocab(int64_t vocab_size, const std::string& what) const;
  // The distinct domains, in order of first appearance ("" included when some have none).
  std::vector<std::string> domains() const;
  // How the prompts were rendered, as opd-prepare records it in an .h5 store
  // (train/prompt_formats.h format_record); "" when unknown (JSONL, older stores).
  const std::string& made_with() const { return made_with_; }
  void set_made_with(std::string record) { made_with_ = std::move(record); }

 private:
  // The rows of a JSONL file, each read by `row` (given the row and its "file:line").
  static PromptDataset read_rows(const std::string& path,
                                 const std::function<Prompt(const nlohmann::json&, const std::string&)>& row,
                                 const std::function<void(int64_t, int64_t)>& progress = {});

  std::string path_;
  std::string made_with_;
  std::vector<Prompt> prompts_;
};

}  // namespace opd::data
