// Conversations -> the text a chat model expects: the model's own Jinja
// template (tokenizer_config.json's chat_template or chat_template.jinja),
// rendered as transformers' apply_chat_template renders it
// (jinja_template.h), or a pattern that is data (configs/chat_templates/
// <name>.yaml): a message pattern with {role} and {content}, the generation
// prompt, Qwen3's thinking switch and the strings that end an assistant turn.
#pragma once

#include <memory>
#include <optional>
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
  // A model's own template; when set, render() is its Jinja (with the
  // special tokens of the model's tokenizer_config.json) and the pattern
  // fields above are unused, but for `name` and `stop` (its eos_token).
  struct Jinja;
  std::shared_ptr<const Jinja> jinja;

  // Reads a template file; throws naming the file and the key on an unknown
  // key, a missing `message` or a pattern without {content}.
  static ChatTemplate from_yaml(const std::string& path);
  // The template a model directory ships: chat_template.jinja, else
  // tokenizer_config.json's chat_template (a text, or a list of named ones:
  // "default"); nullopt when it has none. Its name is "model:<8 hex digits of
  // the text's hash>", so two stores made with different templates differ.
  // Throws naming the file and line of a construct outside the Jinja subset.
  static std::optional<ChatTemplate> from_model_dir(const std::string& dir);

  // The conversation as text; add_generation_prompt opens the assistant's
  // turn (with an empty thought when enable_thinking is false and the
  // template has a thinking switch). A Jinja template's raise_exception
  // throws its message, naming the template.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                     bool enable_thinking = true) const;
};

// A template by file path, or by name from configs/chat_templates/<name>.yaml
// (looked up in ./configs, the source tree opd was built from, and the
// install prefix). Throws naming what was tried.
ChatTemplate find_chat_template(const std::string& name_or_path);

}  // namespace opd::tokenizer
