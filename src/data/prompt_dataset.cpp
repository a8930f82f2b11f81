#include "opd/data/prompt_dataset.h"

#include "opd/core/json_text.h"
#include "opd/data/prompt_store.h"

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>

namespace opd::data {
namespace {

// A non-empty JSON list of token ids; errors name the line and the key.
std::vector<int64_t> read_ids(const nlohmann::json& list, const char* key, const std::string& where) {
  TORCH_CHECK(list.is_array() && !list.empty(), where, ": '", key, "' must be a non-empty list of token ids");
  std::vector<int64_t> ids;
  ids.reserve(list.size());
  for (const auto& id : list) {
    TORCH_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0, where, ": '", key, "' holds ", id.dump(),
                ", not a token id");
    ids.push_back(id.get<int64_t>());
  }
  return ids;
}

std::string read_string(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto& v = j.at(key);
  TORCH_CHECK(v.is_string(), where, ": '", key, "' must be a string, got ", v.dump());
  return v.get<std::string>();
}

std::vector<tokenizer::ChatMessage> read_messages(const nlohmann::json& list, const char* key,
                                                  const std::string& where) {
  TORCH_CHECK(list.is_array() && !list.empty(), where, ": '", key,
              "' must be a non-empty list of {\"role\": ..., \"content\": ...}");
  std::vector<tokenizer::ChatMessage> messages;
  for (size_t i = 0; i < list.size(); ++i) {
    const auto& m = list[i];
    TORCH_CHECK(m.is_object() && m.contains("role") && m.at("role").is_string() && m.contains("content") &&
                    m.at("content").is_string(),
                where, ": ", key, "[", i, "] must be {\"role\": string, \"content\": string}, got ", m.dump());
    messages.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
  }
  return messages;
}

// The reference answer, a string or a number; "" when the row has none.
std::string read_answer(const nlohmann::json& j, const std::string& where) {
  if (!j.contains("answer")) return "";
  const auto& a = j.at("answer");
  TORCH_CHECK(a.is_string() || a.is_number(), where, ": 'answer' must be a string or a number, got ", a.dump());
  return a.is_string() ? a.get<std::string>() : a.dump();
}

// TRL's completion: a text, or one assistant message.
std::string read_completion(const nlohmann::json& j, const std::string& where) {
  const auto& c = j.at("completion");
  if (c.is_string()) return c.get<std::string>();
  const auto turns = read_messages(c, "completion", where);
  TORCH_CHECK(turns.size() == 1 && turns[0].role == "assistant", where,
              ": 'completion' must be a text or one assistant message, got ", c.dump());
  return turns[0].content;
}

// The conversation of a text row: 'prompt' as one user turn (TRL's plain
// form) or as a list of turns (its conversational form), or 'messages'. A
// conversation that ends in the assistant's turn holds its reference reply
// (TRL/GKD's {"messages": [system, user, assistant]}): that turn becomes the
// solution, and the prompt is what comes before it.
std::vector<tokenizer::ChatMessage> read_conversation(const nlohmann::json& j, const std::string& where,
                                                      std::string& solution) {
  std::vector<tokenizer::ChatMessage> messages;
  if (j.contains("messages")) {
    messages = read_messages(j.at("messages"), "messages", where);
  } else if (j.at("prompt").is_array()) {
    messages = read_messages(j.at("prompt"), "prompt", where);
  } else {
    messages = {{"user", read_string(j, "prompt", where)}};
  }
  if (messages.back().role == "assistant") {
    TORCH_CHECK(solution.empty(), where,
                ": the conversation ends in the assistant's reply, and 'solution' or 'completion' gives another");
    TORCH_CHECK(messages.size() > 1, where, ": the conversation holds only the assistant's reply: no prompt");
    solution = messages.back().content;
    messages.pop_back();
  }
  return messages;
}

// f() (rendering or tokenizing the line's `field`), with a failure of the
// chat template or the tokenizer (their own error types) named by the line
// and the field.
template <typename F>
auto rendered(const std::string& where, const std::string& field, const char* whose, F&& f) {
  try {
    return f();
  } catch (const c10::Error&) {
    throw;
  } catch (const std::exception& e) {
    TORCH_CHECK(false, where, ": '", field, "' cannot be rendered in the ", whose, "'s format: ", e.what());
  }
}

Prompt read_line(const nlohmann::json& j, const std::string& where, const PromptFormat* student,
                 const TeacherFormatOf& teacher_of) {
  TORCH_CHECK(j.is_object(), where, ": expected a JSON object");
  const int forms = int(j.contains("prompt")) + int(j.contains("messages")) + int(j.contains("prompt_ids"));
  TORCH_CHECK(forms == 1, where, forms == 0 ? ": missing the prompt: 'prompt' (text), 'messages' (a "
                                              "conversation) or 'prompt_ids' (token ids)"
                                            : ": holds more than one of 'prompt', 'messages', 'prompt_ids'");
  Prompt p;
  p.answer = read_answer(j, where);
  TORCH_CHECK(!(j.contains("solution") && j.contains("completion")), where,
              ": holds both 'solution' and 'completion' (TRL's name for it): give one");
  if (j.contains("solution")) p.solution = read_string(j, "solution", where);
  if (j.contains("completion")) p.solution = read_completion(j, where);
  if (j.contains("domain")) p.domain = read_string(j, "domain", where);
  if (j.contains("response_ids")) p.response_ids = read_ids(j.at("response_ids"), "response_ids", where);
  if (j.contains("prompt_ids")) {
    p.ids = read_ids(j.at("prompt_ids"), "prompt_ids", where);
    return p;
  }
  p.messages = read_conversation(j, where, p.solution);
  TORCH_CHECK(student && student->tokenizer, where,
              ": a text prompt needs the student's tokenizer (tokenizer.json or tokenizer.model in its "
              "model directory), and there is none; give 'prompt_ids' instead");
  const std::string field = j.contains("messages") ? "messages" : "prompt";
  p.ids = rendered(where, field, "student", [&] { return student->prompt_ids(p.messages); });
  TORCH_CHECK(!p.ids.empty(), where, ": the prompt renders to no tokens (empty text and no chat template)");
  const PromptFormat* teacher = teacher_of ? teacher_of(p.domain) : nullptr;
  if (teacher && teacher->tokenizer) {
    auto t = rendered(where, field, "teacher", [&] { return teacher->prompt_ids(p.messages); });
    if (t != p.ids) p.teacher_ids = std::move(t);
  }
  if (p.response_ids.empty() && !p.solution.empty()) {
    const std::string solution_field = j.contains("solution") ? "solution" : j.contains("completion") ? "completion" : field;
    p.response_ids = rendered(where, solution_field, "student", [&] { return student->response_ids(p.solution); });
  }
  return p;
}

}  // namespace

PromptDataset PromptDataset::from_file(const std::string& path, const PromptFormat* student,
                                       const TeacherFormatOf& teacher) {
  if (std::filesystem::path(path).extension() == ".h5") return read_prompt_store(path);
  return from_jsonl(path, student, teacher);
}

PromptDataset PromptDataset::from_jsonl(const std::string& path, const PromptFormat* student,
                                        const TeacherFormatOf& teacher,
                                        const std::function<void(int64_t, int64_t)>& progress) {
  return read_rows(
      path, [&](const nlohmann::json& j, const std::string& where) { return read_line(j, where, student, teacher); },
      progress);
}

PromptDataset PromptDataset::answers_from_file(const std::string& path) {
  if (std::filesystem::path(path).extension() == ".h5") return read_prompt_store(path);
  return read_rows(path, [](const nlohmann::json& j, const std::string& where) {
    TORCH_CHECK(j.is_object(), where, ": expected a JSON object");
    Prompt p;
    p.answer = read_answer(j, where);
    if (j.contains("domain")) p.domain = read_string(j, "domain", where);
    return p;
  });
}

PromptDataset PromptDataset::read_rows(const std::string& path,
                                       const std::function<Prompt(const nlohmann::json&, const std::string&)>& row,
                                       const std::function<void(int64_t, int64_t)>& progress) {
  std::ifstream in(path);
  TORCH_CHECK(in.is_open(), "prompt file '", path, "' cannot be opened");
  std::error_code ec;
  const auto size = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  PromptDataset ds;
  ds.path_ = path;
  std::string text;
  int64_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line);
    nlohmann::json j;
    const std::string error = parse_json_text(text, j);
    TORCH_CHECK(error.empty(), where, ": not valid JSON (", error, ")");
    auto p = row(j, where);
    p.line = line;
    ds.prompts_.push_back(std::move(p));
    if (progress) progress(static_cast<int64_t>(in.tellg()), size);
  }
  TORCH_CHECK(!ds.prompts_.empty(), "prompt file '", path, "' holds no prompts");
  return ds;
}

PromptDataset PromptDataset::from_prompts(std::vector<Prompt> prompts, std::string path) {
  PromptDataset ds;
  ds.prompts_ = std::move(prompts);
  ds.path_ = std::move(path);
  return ds;
}

void PromptDataset::check_vocab(int64_t vocab_size, const std::string& what) const {
  for (const auto& p : prompts_) {
    for (const auto* ids : {&p.ids, &p.response_ids}) {
      for (int64_t id : *ids) {
        TORCH_CHECK(id < vocab_size, path_, ":", p.line, ": token id ", id, " is outside the ", what,
                    " vocabulary of ", vocab_size);
      }
    }
  }
}

std::vector<std::string> PromptDataset::domains() const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& p : prompts_) {
    if (seen.insert(p.domain).second) out.push_back(p.domain);
  }
  return out;
}

}  // namespace opd::data
