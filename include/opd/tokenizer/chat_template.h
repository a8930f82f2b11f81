// Conversations -> the text a chat model expects, from a template that is
// data (configs/chat_templates/<name>.yaml), not code: a message pattern with
// {role} and {content}, the generation prompt, Qwen3's thinking switch and
// the strings that end an assistant turn.
#pragma once

#include <string>
#include <vector>

namespace opd::tokenizer {

struct ChatMessage {
  std::string role;     // system | user | assistant | ...
  std::string content;
};

struct ChatTemplate {
  std::string name;               // e.g. qwen3
  std::string begin;              // before everything, e.g. "<|begin_of_text|>"
  std::string message;            // one message, e.g. "<|im_start|>{role}\n{content}<|im_end|>\n"
  bool trim_content = false;      // strip whitespace around each content (Llama 3)
  std::string generation_prompt;  // opens the assistant's reply, e.g. "<|im_start|>assistant\n"
  std::string thinking_off;       // after the generation prompt when thinking is off (Qwen3)
  std::string thinking_open, thinking_close;  // reasoning markers; assistant turns before the
                                              // last user turn are shown without it
  std::vector<std::string> stop;  // what ends an assistant turn, e.g. {"<|im_end|>"}

  // Reads a template file; throws naming the file and the key on an unknown
  // key, a missing `message` or a pattern without {content}.
  static ChatTemplate from_yaml(const std::string& path);

  // The conversation as text; add_generation_prompt opens the assistant's
  // turn (with an empty thought when enable_thinking is false and the
  // template has a thinking switch).
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                     bool enable_thinking = true) const;
};

// A template by file path, or by name from configs/chat_templates/<name>.yaml
// (looked up in ./configs, the source tree opd was built from, and the
// install prefix). Throws naming what was tried.
ChatTemplate find_chat_template(const std::string& name_or_path);

}  // namespace opd::tokenizer
