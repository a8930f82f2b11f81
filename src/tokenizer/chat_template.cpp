#include "opd/tokenizer/chat_template.h"

#include "check.h"
#include "opd/core/config_files.h"
#include "opd/core/crc32c.h"
#include "opd/core/placeholders.h"
#include "opd/core/text_file.h"
#include "opd/tokenizer/hf_chat_context.h"
#include "opd/tokenizer/jinja_template.h"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <set>

namespace opd::tokenizer {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// The template text of tokenizer_config.json's chat_template: a text, or a
// list of {"name", "template"} of which "default" is the chat one.
std::string template_text(const nlohmann::ordered_json& t, const std::string& where) {
  if (t.is_string()) return t.get<std::string>();
  check(t.is_array(), where, ": expected a text or a list of {\"name\", \"template\"}");
  for (const auto& entry : t) {
    if (entry.is_object() && entry.value("name", "") == "default" && entry.contains("template") &&
        entry["template"].is_string()) {
      return entry["template"].get<std::string>();
    }
  }
  fail(where, ": a list of templates without one named \"default\"");
}

}  // namespace

struct ChatTemplate::Jinja {
  JinjaTemplate text;
  nlohmann::ordered_json special_tokens;  // bos_token, eos_token, ... as transformers passes them
};

std::optional<ChatTemplate> ChatTemplate::from_model_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  const auto jinja_file = (fs::path(dir) / "chat_template.jinja").string();
  const auto config_file = (fs::path(dir) / "tokenizer_config.json").string();
  auto config = nlohmann::ordered_json::object();
  if (fs::exists(config_file)) {
    config = nlohmann::ordered_json::parse(read_text_file(config_file), nullptr, /*allow_exceptions=*/false);
    check(config.is_object(), config_file, ": not a JSON object");
  }
  std::string source, origin;
  if (fs::exists(jinja_file)) {
    source = read_text_file(jinja_file);
    origin = jinja_file;
  } else if (config.contains("chat_template") && !config["chat_template"].is_null()) {
    origin = config_file + " chat_template";
    source = template_text(config["chat_template"], origin);
  } else {
    return std::nullopt;
  }
  auto jinja = std::make_shared<Jinja>(Jinja{[&] {
    try {
      return JinjaTemplate::parse(source, origin);
    } catch (const JinjaError& e) {
      fail(e.what());
    }
  }(), special_tokens_from_tokenizer_config(config)});
  ChatTemplate t;
  char hash[16];
  std::snprintf(hash, sizeof hash, "%08x", static_cast<unsigned>(crc32c(source.data(), source.size())));
  t.name = std::string("model:") + hash;
  const auto& special = jinja->special_tokens;
  if (special.contains("eos_token") && special["eos_token"].is_string()) t.stop = {special["eos_token"].get<std::string>()};
  t.jinja = std::move(jinja);
  return t;
}

ChatTemplate ChatTemplate::from_yaml(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    fail(path, ": cannot read the chat template (", e.what(), ")");
  }
  check(root.IsMap(), path, ": a chat template is a YAML mapping");
  static const std::set<std::string> kKeys = {"name",         "begin",    "message", "trim_content",
                                              "generation_prompt", "thinking_off", "thinking", "stop"};
  ChatTemplate t;
  try {
    for (const auto& kv : root) {
      const auto key = kv.first.as<std::string>();
      check(kKeys.count(key) > 0, path, ": ", key,
            ": unknown key (allowed: name, begin, message, trim_content, generation_prompt, "
            "thinking_off, thinking, stop)");
    }
    t.name = root["name"] ? root["name"].as<std::string>() : std::filesystem::path(path).stem().string();
    if (root["begin"]) t.begin = root["begin"].as<std::string>();
    check(root["message"].IsDefined(), path, ": message: missing (e.g. \"<|im_start|>{role}\\n{content}<|im_end|>\\n\")");
    t.message = root["message"].as<std::string>();
    check(t.message.find("{content}") != std::string::npos, path, ": message: has no {content}");
    if (root["trim_content"]) t.trim_content = root["trim_content"].as<bool>();
    if (root["generation_prompt"]) t.generation_prompt = root["generation_prompt"].as<std::string>();
    if (root["thinking_off"]) t.thinking_off = root["thinking_off"].as<std::string>();
    if (root["thinking"]) {
      t.thinking_open = root["thinking"]["open"].as<std::string>();
      t.thinking_close = root["thinking"]["close"].as<std::string>();
    }
    if (root["stop"]) t.stop = root["stop"].as<std::vector<std::string>>();
  } catch (const YAML::Exception& e) {
    fail(path, ":", e.mark.line + 1, ": ", e.msg);
  }
  return t;
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                 bool enable_thinking) const {
  if (jinja) {
    auto conversation = nlohmann::ordered_json::array();
    for (const auto& m : messages) conversation.push_back({{"role", m.role}, {"content", m.content}});
    const auto context = hf_chat_context(conversation, add_generation_prompt, jinja->special_tokens,
                                         {{"enable_thinking", enable_thinking}}, nullptr);
    try {
      return jinja->text.render(context);
    } catch (const JinjaError& e) {
      fail(e.what());
    }
  }
  int64_t last_user = -1;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].role == "user") last_user = static_cast<int64_t>(i);
  }
  std::string out = begin;
  for (size_t i = 0; i < messages.size(); ++i) {
    std::string content = messages[i].content;
    const size_t close = thinking_close.empty() ? std::string::npos : content.rfind(thinking_close);
    if (messages[i].role == "assistant" && static_cast<int64_t>(i) < last_user && close != std::string::npos) {
      content = content.substr(close + thinking_close.size());
      content.erase(0, content.find_first_not_of('\n') == std::string::npos ? content.size()
                                                                            : content.find_first_not_of('\n'));
    }
    if (trim_content) content = trim(content);
    out += fill_placeholders(message, {{"role", messages[i].role}, {"content", content}});
  }
  if (add_generation_prompt) {
    out += generation_prompt;
    if (!enable_thinking) out += thinking_off;
  }
  return out;
}

ChatTemplate find_chat_template(const std::string& name_or_path) {
  return ChatTemplate::from_yaml(find_config_file("chat_templates", name_or_path));
}

}  // namespace opd::tokenizer
