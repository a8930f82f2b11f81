#include "jinja_lexer.h"

#include "jinja_python_text.h"
#include "opd/tokenizer/jinja_template.h"
#include "utf8.h"

#include <algorithm>
#include <cctype>

namespace opd::tokenizer::jinja {
namespace {

// The operators of jinja2's lexer, longest first.
const char* const kOperators[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]",
                                  "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"};

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  Lexer(const std::string& source, const std::string& origin) : origin_(origin) {
    // jinja2 splits on \r\n, \r and \n and joins with "\n"; without
    // keep_trailing_newline the last newline goes.
    src_.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\r') {
        src_ += '\n';
        if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
      } else {
        src_ += source[i];
      }
    }
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') newlines_.push_back(i);
    }
  }

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;  // the last match ended a line (or nothing matched yet)
    while (pos < src_.size()) {
      const size_t tag = next_tag(pos);
      if (tag == std::string::npos) {
        emit(Token::Type::Data, src_.substr(pos), pos);
        break;
      }
      const char kind = src_[tag + 1];  // '{', '%' or '#'
      size_t after = tag + 2;
      const char sign = after < src_.size() && (src_[after] == '-' || src_[after] == '+') ? src_[after] : 0;
      std::string text = src_.substr(pos, tag - pos);
      if (sign == '-') {
        text = py_strip(text, std::nullopt, false, true);
      } else if (sign != '+' && kind != '{') {
        // lstrip_blocks: a block or comment tag alone after the line's indent.
        const size_t line_begin = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
        if ((line_begin > 0 || line_starting) && line_begin < text.size() &&
            py_strip(text.substr(line_begin), std::nullopt, true, false).empty()) {
          text.erase(line_begin);
        }
      }
      if (!text.empty()) emit(Token::Type::Data, text, pos);
      if (sign) ++after;
      if (kind == '#') {
        pos = skip_comment(tag, after, line_starting);
      } else {
        emit(kind == '{' ? Token::Type::VariableBegin : Token::Type::BlockBegin, "", tag);
        pos = lex_tag(kind, after, line_starting);
      }
    }
    tokens_.push_back({Token::Type::End, "", line_of(src_.size())});
    return std::move(tokens_);
  }

 private:
  int line_of(size_t pos) const {
    return 1 + static_cast<int>(std::lower_bound(newlines_.begin(), newlines_.end(), pos) - newlines_.begin());
  }

  [[noreturn]] void fail(size_t pos, const std::string& detail) const { throw JinjaError(origin_, line_of(pos), detail); }

  void emit(Token::Type type, std::string value, size_t pos) { tokens_.push_back({type, std::move(value), line_of(pos)}); }

  size_t next_tag(size_t pos) const {
    for (size_t i = src_.find('{', pos); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  // Python's \s* after "-%}", "-}}", "-#}".
  size_t skip_space(size_t pos) const {
    while (pos < src_.size()) {
      size_t next = pos;
      if (!is_python_space(next_code_point(src_, next))) break;
      pos = next;
    }
    return pos;
  }

  // After the end delimiter at `end` (its "-" or "+" at end - 1 when there
  // is one): trims as trim_blocks and the sign say, updates line_starting.
  size_t finish_tag(char kind, size_t end, char sign, bool& line_starting) {
    size_t pos = end + 2;
    if (sign == '-') {
      pos = skip_space(pos);
    } else if (sign != '+' && kind != '{' && pos < src_.size() && src_[pos] == '\n') {
      ++pos;  // trim_blocks: the first newline after a block or comment tag
    }
    line_starting = src_[pos - 1] == '\n';
    return pos;
  }

  size_t skip_comment(size_t tag, size_t body, bool& line_starting) {
    const size_t end = src_.find("#}", body);
    if (end == std::string::npos) fail(tag, "missing end of comment tag '#}'");
    const char sign = end > body && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : 0;
    return finish_tag('#', end, sign, line_starting);
  }

  size_t lex_tag(char kind, size_t pos, bool& line_starting) {
    const char close = kind == '{' ? '}' : '%';
    std::vector<char> brackets;  // end delimiters count only outside brackets
    while (true) {
      pos = skip_space(pos);
      if (pos >= src_.size()) fail(pos, std::string("unexpected end of template, expected '") + close + "}'");
      if (brackets.empty()) {
        // "-%}" / "+%}" (blocks) and "-}}" (variables) are tried before the "-" operator.
        const bool signed_end = pos + 2 < src_.size() && src_[pos + 1] == close && src_[pos + 2] == '}' &&
                                (src_[pos] == '-' || (src_[pos] == '+' && kind == '%'));
        if (signed_end || (src_[pos] == close && pos + 1 < src_.size() && src_[pos + 1] == '}')) {
          const size_t end = signed_end ? pos + 1 : pos;
          emit(kind == '{' ? Token::Type::VariableEnd : Token::Type::BlockEnd, "", pos);
          return finish_tag(kind, end, signed_end ? src_[pos] : 0, line_starting);
        }
      }
      const char c = src_[pos];
      if (is_digit(c)) {
        pos = lex_number(pos);
      } else if (is_name_start(c)) {
        size_t end = pos;
        while (end < src_.size() && is_name_char(src_[end])) ++end;
        emit(Token::Type::Name, src_.substr(pos, end - pos), pos);
        pos = end;
      } else if (c == '\'' || c == '"') {
        pos = lex_string(pos);
      } else {
        const char* op = nullptr;
        for (const char* candidate : kOperators) {
          if (src_.compare(pos, std::char_traits<char>::length(candidate), candidate) == 0) {
            op = candidate;
            break;
          }
        }
        if (op == nullptr) fail(pos, std::string("unexpected character '") + c + "' in a tag");
        const std::string o = op;
        if (o == "(" || o == "[" || o == "{") brackets.push_back(o[0]);
        if (o == ")" || o == "]" || o == "}") {
          const char open = o == ")" ? '(' : o == "]" ? '[' : '{';
          if (brackets.empty() || brackets.back() != open) fail(pos, "unexpected '" + o + "'");
          brackets.pop_back();
        }
        emit(Token::Type::Operator, o, pos);
        pos += o.size();
      }
    }
  }

  size_t lex_number(size_t pos) {
    const size_t begin = pos;
    const auto digits = [&](size_t p) {
      while (p < src_.size() && (is_digit(src_[p]) || (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1])))) ++p;
      return p;
    };
    pos = digits(pos);
    bool is_float = false;
    if (pos + 1 < src_.size() && src_[pos] == '.' && is_digit(src_[pos + 1])) {
      pos = digits(pos + 1);
      is_float = true;
    }
    if (pos < src_.size() && (src_[pos] == 'e' || src_[pos] == 'E')) {
      size_t p = pos + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && is_digit(src_[p])) {
        pos = digits(p);
        is_float = true;
      }
    }
    std::string text = src_.substr(begin, pos - begin);
    text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
    if (!is_float && text.size() > 1 && text[0] == '0' && pos < src_.size() && std::isalpha(static_cast<unsigned char>(src_[pos]))) {
      fail(begin, "binary, octal and hexadecimal literals are not supported");
    }
    emit(is_float ? Token::Type::Float : Token::Type::Integer, text, begin);
    return pos;
  }

  // Python's "unicode-escape" decoding, as jinja2 unescapes string literals.
  size_t lex_string(size_t pos) {
    const char quote = src_[pos];
    std::string value;
    size_t i = pos + 1;
    while (true) {
      if (i >= src_.size()) fail(pos, "unterminated string literal");
      const char c = src_[i];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++i;
        continue;
      }
      if (i + 1 >= src_.size()) fail(pos, "unterminated string literal");
      const char e = src_[i + 1];
      i += 2;
      switch (e) {
        case '\n': break;  // a line continuation
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case 'a': value += '\a'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'n': value += '\n'; break;
        case 'r': value += '\r'; break;
        case 't': value += '\t'; break;
        case 'v': value += '\v'; break;
        case 'x': case 'u': case 'U': {
          const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (i + n > src_.size() || !std::all_of(src_.begin() + i, src_.begin() + i + n, [](char h) {
                return std::isxdigit(static_cast<unsigned char>(h));
              })) {
            fail(pos, std::string("truncated \\") + e + " escape in a string literal");
          }
          append_utf8(value, static_cast<char32_t>(std::stoul(src_.substr(i, n), nullptr, 16)));
          i += n;
          break;
        }
        case 'N': fail(pos, "\\N{...} escapes are not supported");
        default:
          if (e >= '0' && e <= '7') {
            size_t n = 1;
            while (n < 3 && i + n - 1 < src_.size() && src_[i + n - 1] >= '0' && src_[i + n - 1] <= '7') ++n;
            append_utf8(value, static_cast<char32_t>(std::stoul(src_.substr(i - 1, n), nullptr, 8)));
            i += n - 1;
          } else {
            value += '\\';  // Python keeps an unknown escape as it is
            value += e;
          }
      }
    }
    emit(Token::Type::String, std::move(value), pos);
    return i + 1;
  }

  const std::string& origin_;
  std::string src_;
  std::vector<size_t> newlines_;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source, const std::string& origin) {
  return Lexer(source, origin).run();
}

}  // namespace opd::tokenizer::jinja
