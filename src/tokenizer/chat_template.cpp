#include "opd/tokenizer/chat_template.h"

#include "check.h"
#include "opd/core/config_files.h"
#include "opd/core/placeholders.h"

#include <yaml-cpp/yaml.h>

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

}  // namespace

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
