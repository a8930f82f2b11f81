#include "opd/tokenizer/hf_chat_context.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace opd::tokenizer {

nlohmann::ordered_json hf_chat_context(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                       const nlohmann::ordered_json& special_tokens,
                                       const nlohmann::ordered_json& extra, const nlohmann::ordered_json& tools) {
  if (!messages.is_array()) throw std::invalid_argument("hf_chat_context: messages must be a JSON array");
  if (!special_tokens.is_object() && !special_tokens.is_null()) {
    throw std::invalid_argument("hf_chat_context: special_tokens must be a JSON object");
  }
  if (!extra.is_object() && !extra.is_null()) throw std::invalid_argument("hf_chat_context: extra must be a JSON object");
  nlohmann::ordered_json context = {{"messages", messages},
                                    {"tools", tools},
                                    {"documents", nullptr},
                                    {"add_generation_prompt", add_generation_prompt}};
  if (special_tokens.is_object()) {
    for (const auto& [k, v] : special_tokens.items()) context[k] = v;
  }
  if (extra.is_object()) {
    for (const auto& [k, v] : extra.items()) context[k] = v;
  }
  return context;
}

nlohmann::ordered_json special_tokens_from_tokenizer_config(const nlohmann::ordered_json& config) {
  nlohmann::ordered_json tokens = nlohmann::ordered_json::object();
  for (const char* name : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
    const auto it = config.find(name);
    if (it == config.end() || it->is_null()) continue;
    if (it->is_string()) {
      tokens[name] = *it;
    } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      tokens[name] = (*it)["content"];
    }
  }
  return tokens;
}

}  // namespace opd::tokenizer
