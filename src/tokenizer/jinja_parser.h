// Private to src/tokenizer: tokens to statements, with jinja2's grammar and
// operator precedence. Everything outside the subset (an unknown tag,
// filter or test, *args, recursive loops, call blocks) is a JinjaError here,
// naming the construct and its line, before anything renders.
#pragma once

#include "jinja_ast.h"
#include "jinja_lexer.h"

#include <string>
#include <vector>

namespace opd::tokenizer::jinja {

Body parse_template(const std::vector<Token>& tokens, const std::string& origin);

}  // namespace opd::tokenizer::jinja
