// How a model sees a text prompt: its tokenizer, its chat template, a system
// prompt and the thinking switch. The student and the teacher each have one,
// so each reads the same problem in its own format.
#pragma once

#include "opd/tokenizer/chat_template.h"
#include "opd/tokenizer/tokenizer.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace opd::data {

struct PromptFormat {
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
  std::optional<tokenizer::ChatTemplate> chat_template;  // none: messages are joined as plain text
  std::string system_prompt;     // put first when the conversation has no system message
  bool enable_thinking = true;   // Qwen3's switch (templates without one ignore it)

  // The token ids the model reads for a conversation, its reply opened.
  std::vector<int64_t> prompt_ids(const std::vector<tokenizer::ChatMessage>& messages) const;
  // The token ids of a reply text, closed the way the template ends a turn
  // (its first stop string), so training on it teaches the model to stop.
  std::vector<int64_t> response_ids(const std::string& text) const;
  // Ids of the template's stop strings that are single tokens.
  std::vector<int64_t> stop_ids() const;
};

}  // namespace opd::data
