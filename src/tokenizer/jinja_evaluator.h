// Private to src/tokenizer: renders a parsed template, with jinja2's scoping
// (a for loop's body is a fresh scope every iteration, `if` is none, a macro
// reads its defining scope when called) and the globals transformers gives
// chat templates (raise_exception, strftime_now) besides jinja2's own
// (namespace, range, dict).
#pragma once

#include "jinja_ast.h"

#include <string>

namespace opd::tokenizer::jinja {

// The text `body` renders with `context` (the template's variables).
// Throws JinjaError(origin, line, ...) at the first failure.
std::string render_template(const Body& body, const std::string& origin, const Dict& context);

}  // namespace opd::tokenizer::jinja
