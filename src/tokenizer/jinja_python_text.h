// Private to src/tokenizer: Python's str operations on UTF-8 text, by code
// point, as jinja2 templates call them (strip, split, upper, title, ...).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opd::tokenizer::jinja {

// Python str.isspace() for one code point (also what `\s` matches in re).
bool is_python_space(char32_t cp);
std::vector<char32_t> code_points(std::string_view s);
std::string from_code_points(const std::vector<char32_t>& cps, size_t begin, size_t end);

// str.strip / lstrip / rstrip: `chars` unset strips whitespace.
std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split / rsplit: `sep` unset splits on whitespace runs; maxsplit < 0 is unlimited.
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit,
                                  bool from_right);
// str.replace(old, new, count): count < 0 replaces all.
std::string py_replace(std::string_view s, std::string_view old, std::string_view replacement, int64_t count);
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_capitalize(std::string_view s);  // first upper, rest lower
std::string py_title(std::string_view s);       // str.title()
std::string jinja_title(std::string_view s);    // the `title` filter (splits at -, space, brackets)
// Python repr of a string: quotes and escapes.
std::string py_repr_string(std::string_view s);

}  // namespace opd::tokenizer::jinja
