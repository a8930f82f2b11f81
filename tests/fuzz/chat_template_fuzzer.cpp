// Chat templates (tokenizer/jinja_template.h): the input is the template
// source, optionally followed by a NUL byte and a JSON object that replaces
// the default context. Parsing and rendering may only fail with a
// JinjaError; the renderer's limits (output size, loop iterations, call
// depth) must turn a runaway template into one, never a hang or an
// exhausted memory.
#include "fuzz_support.h"

#include "opd/tokenizer/jinja_template.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace {

const nlohmann::ordered_json& default_context() {
  static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "What is 2 + 3?"},
      {"role": "assistant", "content": "<think>\nadd\n</think>\n\n5", "tool_calls": [
        {"type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3}}}]},
      {"role": "tool", "content": "5"},
      {"role": "user", "content": "Thanks! \u00e9\u4f60"}
    ],
    "tools": [{"type": "function", "function": {"name": "add", "description": "Adds.",
               "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}}],
    "documents": null,
    "add_generation_prompt": true,
    "enable_thinking": false,
    "bos_token": "<s>", "eos_token": "</s>", "pad_token": null, "n": 3, "x": 1.5
  })");
  return context;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string source = input.substr(0, nul);
  nlohmann::ordered_json context = default_context();
  if (nul != std::string::npos) {
    context = nlohmann::ordered_json::parse(input.substr(nul + 1), nullptr, /*allow_exceptions=*/false);
    if (context.is_discarded()) return 0;  // not a context; JSON parsing is another target's job
  }
  opd::fuzz::expect_refusal_or_success<opd::tokenizer::JinjaError>([&] {
    const auto t = opd::tokenizer::JinjaTemplate::parse(source, "chat_template.jinja");
    (void)t.render(context);
  });
  return 0;
}
