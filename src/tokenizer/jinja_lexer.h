// Private to src/tokenizer: template text to tokens, with jinja2's whitespace
// control as transformers configures it (trim_blocks, lstrip_blocks, "-"
// strips, "+" keeps), newlines normalised to "\n" and one trailing newline
// dropped (keep_trailing_newline=False).
#pragma once

#include <string>
#include <vector>

namespace opd::tokenizer::jinja {

struct Token {
  enum class Type { Data, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, End };
  Type type;
  std::string value;  // Data text, a name, an unescaped string, digits, an operator
  int line;           // 1-based
};

// Throws JinjaError(origin, line, ...) for an unterminated tag, comment or
// string and for characters that are no Jinja token.
std::vector<Token> tokenize(const std::string& source, const std::string& origin);

}  // namespace opd::tokenizer::jinja
