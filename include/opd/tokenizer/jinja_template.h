// A renderer for the Jinja subset that Hugging Face chat templates use,
// matching what transformers' apply_chat_template produces byte for byte:
// jinja2's ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and
// loop controls, transformers' own `tojson` filter and its `raise_exception`
// and `strftime_now` globals. Values follow Python: `None`/`True` print as
// such, floats as repr, dicts keep insertion order, missing keys are
// jinja2's default Undefined (empty, falsy).
//
// The context is an nlohmann::ordered_json object, not nlohmann::json: a
// Python dict keeps its insertion order and `tojson` of a tool schema must
// print its keys in that order, which nlohmann::json (sorted keys) loses.
// Only the forward declaration is needed here, as in data/prompt_dataset.h.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <stdexcept>
#include <string>

namespace opd::tokenizer {

// A template that cannot be parsed or rendered: what() is
// "<origin>:<line>: <detail>", e.g.
// "chat_template.jinja:12: unsupported filter 'wordwrap'"; line 0 when the
// fault is not in the template (a context that is not a JSON object).
class JinjaError : public std::runtime_error {
 public:
  JinjaError(const std::string& origin, int line, const std::string& detail);
  const std::string& origin() const { return origin_; }
  int line() const { return line_; }                     // 1-based line in the template source
  const std::string& detail() const { return detail_; }  // the message without the place

 private:
  std::string origin_;
  int line_;
  std::string detail_;
};

class JinjaTemplate {
 public:
  // Parses `source` (the template text itself); `origin` (a file name)
  // prefixes every error with the line. Throws JinjaError naming the first
  // construct outside the supported subset (an unknown tag, filter, test or
  // operator) and its line.
  static JinjaTemplate parse(const std::string& source, const std::string& origin);

  // The rendered text for `context`, a JSON object whose keys are the
  // template's variables (messages, add_generation_prompt, tools, bos_token,
  // ...; hf_chat_context.h builds the ones transformers passes).
  // Throws JinjaError with the line for a runtime failure (an undefined value
  // used in arithmetic, a call of raise_exception(msg): detail() is msg).
  std::string render(const nlohmann::ordered_json& context) const;

  const std::string& origin() const;  // the name given to parse()

 private:
  struct Parsed;
  explicit JinjaTemplate(std::shared_ptr<const Parsed> parsed);
  std::shared_ptr<const Parsed> parsed_;  // immutable after parse: copies share it
};

}  // namespace opd::tokenizer
