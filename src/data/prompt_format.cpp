#include "opd/data/prompt_format.h"

#include <c10/util/Exception.h>

namespace opd::data {

std::vector<int64_t> PromptFormat::prompt_ids(const std::vector<tokenizer::ChatMessage>& messages) const {
  TORCH_CHECK(tokenizer, "PromptFormat: no tokenizer");
  std::vector<tokenizer::ChatMessage> conversation;
  if (!system_prompt.empty() && (messages.empty() || messages.front().role != "system")) {
    conversation.push_back({"system", system_prompt});
  }
  conversation.insert(conversation.end(), messages.begin(), messages.end());
  if (chat_template) {
    return tokenizer->encode(chat_template->render(conversation, /*add_generation_prompt=*/true, enable_thinking));
  }
  std::string text;
  for (const auto& m : conversation) text += (text.empty() ? "" : "\n\n") + m.content;
  return tokenizer->encode(text);
}

std::vector<int64_t> PromptFormat::response_ids(const std::string& text) const {
  TORCH_CHECK(tokenizer, "PromptFormat: no tokenizer");
  auto ids = tokenizer->encode(text);
  const auto stops = stop_ids();
  if (!stops.empty()) ids.push_back(stops.front());
  return ids;
}

std::vector<int64_t> PromptFormat::stop_ids() const {
  std::vector<int64_t> ids;
  if (!chat_template || !tokenizer) return ids;
  for (const auto& s : chat_template->stop) {
    if (auto id = tokenizer->token_to_id(s)) ids.push_back(*id);
  }
  return ids;
}

}  // namespace opd::data
