#include "opd/train/prompt_formats.h"

#include "opd/core/text_file.h"
#include "opd/tokenizer/chat_template.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

namespace opd::train {
namespace {

bool contains(const std::vector<int64_t>& ids, int64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

data::PromptFormat load_prompt_format(const ModelSpec& model, const DataConfig& data, const std::string& key) {
  namespace fs = std::filesystem;
  data::PromptFormat f;
  if (fs::exists(fs::path(model.path) / "tokenizer.json") || fs::exists(fs::path(model.path) / "tokenizer.model")) {
    f.tokenizer = tokenizer::load_tokenizer(model.path);
  }
  f.system_prompt = data.system_prompt;
  f.enable_thinking = data.enable_thinking;
  const auto& name = model.chat_template;
  if (name == kPlainText) return f;
  try {
    if (name.empty()) {  // the model's own template, when it has one and a tokenizer to read it with
      if (f.tokenizer) f.chat_template = tokenizer::ChatTemplate::from_model_dir(model.path);
      return f;
    }
    TORCH_CHECK(f.tokenizer, "a chat template needs a tokenizer, and '", model.path,
                "' has no tokenizer.json or tokenizer.model");
    f.chat_template = tokenizer::find_chat_template(name);
  } catch (const std::exception& e) {
    TORCH_CHECK(false, key, ".chat_template: ", e.what());
  }
  return f;
}

std::vector<std::string> eos_problems(const std::vector<int64_t>& eos_ids, const data::PromptFormat& format) {
  std::vector<std::string> out;
  const auto& tok = format.tokenizer;
  if (!tok) return out;
  for (int64_t id : eos_ids) {
    if (id < 0 || id >= tok->vocab_size()) {
      out.push_back(fmt::format("eos_token_id {} is not in the tokenizer's vocabulary of {}", id, tok->vocab_size()));
    } else if (!tok->is_special(id)) {
      out.push_back(fmt::format("eos_token_id {} is '{}', not a special token: replies end wherever it is written",
                                id, tok->id_to_token(id)));
    }
  }
  return out;
}

void warn_about_eos(const std::vector<int64_t>& eos_ids, const data::PromptFormat& format, const std::string& who,
                    const std::string& path) {
  for (const auto& problem : eos_problems(eos_ids, format)) {
    spdlog::warn("{} ({}/config.json): {}; set eos_token_id to the tokenizer's end of text or of turn", who, path,
                 problem);
  }
}

namespace {

nlohmann::json format_entry(const data::PromptFormat& f) {
  nlohmann::json j;
  j["chat_template"] = f.chat_template ? f.chat_template->name : "";
  j["system_prompt"] = f.system_prompt;
  j["enable_thinking"] = f.enable_thinking;
  std::vector<int64_t> probe;
  try {  // a tokenizer without this text's characters (a char tokenizer) records no probe
    if (f.tokenizer) probe = f.prompt_ids({{"user", "what is 1+1?"}});
  } catch (const std::exception&) {
  }
  j["probe"] = probe;
  return j;
}

std::string describe_entry(const nlohmann::json& e) {
  return fmt::format("chat_template '{}', system_prompt '{}', enable_thinking {}", e.value("chat_template", ""),
                     e.value("system_prompt", ""), e.value("enable_thinking", true));
}

}  // namespace

std::string format_record(const data::PromptFormat& student, const std::map<std::string, data::PromptFormat>& teachers) {
  nlohmann::json j;
  j["student"] = format_entry(student);
  for (const auto& [key, format] : teachers) j[key] = format_entry(format);
  return j.dump();
}

void check_format_record(const std::string& recorded, const std::string& current, const std::string& path) {
  const auto was = nlohmann::json::parse(recorded, nullptr, /*allow_exceptions=*/false);
  TORCH_CHECK(was.is_object(), path, ": its record of the formats it was made with is not JSON: ", recorded);
  const auto now = nlohmann::json::parse(current);
  for (const auto& [key, entry] : now.items()) {
    if (!was.contains(key) || was[key] == entry) continue;
    const std::string then = describe_entry(was[key]), here = describe_entry(entry);
    TORCH_CHECK(false, path, ": prepared for a ", key, " that reads prompts ",
                then == here ? "with another tokenizer" : "with " + then, ", but this recipe's ", key, " reads them ",
                then == here ? "with its own" : "with " + here,
                ": run opd-prepare again with this recipe, or train on the JSONL");
  }
}

std::string teacher_key(const TrainConfig& config, const std::string& domain) {
  if (config.teachers.count(domain)) return "teachers." + domain;
  return config.teacher.path.empty() ? "" : "teacher";
}

std::map<std::string, data::PromptFormat> load_teacher_formats(const TrainConfig& config) {
  std::map<std::string, data::PromptFormat> formats;
  if (!config.teacher.path.empty()) formats["teacher"] = load_prompt_format(config.teacher, config.data, "teacher");
  for (const auto& [domain, spec] : config.teachers) {
    const std::string key = "teachers." + domain;
    formats[key] = load_prompt_format(spec, config.data, key);
  }
  return formats;
}

std::vector<std::string> format_disagreements(const data::PromptFormat& student,
                                              const std::vector<int64_t>& student_eos,
                                              const data::PromptFormat& teacher,
                                              const std::vector<int64_t>& teacher_eos) {
  std::vector<std::string> out;
  const auto& s = student.tokenizer;
  const auto& t = teacher.tokenizer;
  if (!s || !t) return out;
  if (s->vocab_size() != t->vocab_size()) {
    out.push_back(fmt::format("vocabulary sizes {} vs {}", s->vocab_size(), t->vocab_size()));
  }
  auto stops = student.stop_ids();
  stops.insert(stops.end(), student_eos.begin(), student_eos.end());
  for (int64_t id = 0; id < std::min(s->vocab_size(), t->vocab_size()) && out.size() < 4; ++id) {
    const bool stop = contains(stops, id);
    if (!stop && !s->is_special(id)) continue;
    if (s->id_to_token(id) != t->id_to_token(id) || s->is_special(id) != t->is_special(id)) {
      out.push_back(fmt::format("id {} is '{}'{} for the student but '{}' for the teacher", id,
                                s->id_to_token(id), stop ? " (end of turn)" : "", t->id_to_token(id)));
    }
  }
  if (teacher.chat_template) {
    const auto teacher_stops = teacher.stop_ids();
    for (int64_t id : stops) {
      if (!contains(teacher_stops, id) && !contains(teacher_eos, id)) {
        out.push_back(fmt::format("the student ends a turn with id {} ('{}'), the teacher does not", id,
                                  s->id_to_token(id)));
      }
    }
  }
  return out;
}

}  // namespace opd::train
