#include "jinja_python_text.h"

#include "jinja_value.h"

#include "utf8.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace opd::tokenizer::jinja {

bool is_python_space(char32_t cp) {
  // CPython's _Py_ascii_whitespace plus the Unicode White_Space / bidi
  // whitespace code points str.isspace() accepts.
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20:
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

std::vector<char32_t> code_points(std::string_view s) {
  std::vector<char32_t> out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) out.push_back(next_code_point(s, i));
  return out;
}

std::string from_code_points(const std::vector<char32_t>& cps, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) append_utf8(out, cps[i]);
  return out;
}

std::string py_strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  const auto cps = code_points(s);
  std::vector<char32_t> set;
  if (chars) set = code_points(*chars);
  const auto strippable = [&](char32_t cp) {
    return chars ? std::find(set.begin(), set.end(), cp) != set.end() : is_python_space(cp);
  };
  size_t begin = 0, end = cps.size();
  if (left) while (begin < end && strippable(cps[begin])) ++begin;
  if (right) while (end > begin && strippable(cps[end - 1])) --end;
  return from_code_points(cps, begin, end);
}

namespace {

std::vector<std::string> split_on_whitespace(std::string_view s, int64_t maxsplit, bool from_right) {
  const auto cps = code_points(s);
  std::vector<std::pair<size_t, size_t>> words;  // [begin, end) in code points
  if (!from_right) {
    size_t i = 0;
    while (i < cps.size()) {
      while (i < cps.size() && is_python_space(cps[i])) ++i;
      if (i == cps.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(words.size()) == maxsplit) {
        size_t end = cps.size();
        while (end > i && is_python_space(cps[end - 1])) --end;
        words.emplace_back(i, end);
        break;
      }
      size_t j = i;
      while (j < cps.size() && !is_python_space(cps[j])) ++j;
      words.emplace_back(i, j);
      i = j;
    }
  } else {
    size_t i = cps.size();
    while (i > 0) {
      while (i > 0 && is_python_space(cps[i - 1])) --i;
      if (i == 0) break;
      if (maxsplit >= 0 && static_cast<int64_t>(words.size()) == maxsplit) {
        size_t begin = 0;
        while (begin < i && is_python_space(cps[begin])) ++begin;
        words.emplace_back(begin, i);
        break;
      }
      size_t j = i;
      while (j > 0 && !is_python_space(cps[j - 1])) --j;
      words.emplace_back(j, i);
      i = j;
    }
    std::reverse(words.begin(), words.end());
  }
  std::vector<std::string> out;
  for (const auto& [b, e] : words) out.push_back(from_code_points(cps, b, e));
  return out;
}

}  // namespace

std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit,
                                  bool from_right) {
  if (!sep) return split_on_whitespace(s, maxsplit, from_right);
  if (sep->empty()) throw std::invalid_argument("empty separator");
  std::vector<std::string> out;
  if (!from_right) {
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      const size_t at = s.find(*sep, start);
      if (at == std::string_view::npos) break;
      out.emplace_back(s.substr(start, at - start));
      start = at + sep->size();
    }
    out.emplace_back(s.substr(start));
  } else {
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      const size_t at = s.rfind(*sep, end - sep->size());
      if (at == std::string_view::npos) break;
      out.emplace_back(s.substr(at + sep->size(), end - at - sep->size()));
      end = at;
    }
    out.emplace_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
  }
  return out;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view replacement, int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts the replacement before every code point and at the end.
    const auto cps = code_points(s);
    int64_t done = 0;
    for (size_t i = 0; i <= cps.size(); ++i) {
      if (count < 0 || done < count) {
        out += replacement;
        check_string_size(out, "replace's text");
        ++done;
      }
      if (i < cps.size()) append_utf8(out, cps[i]);
    }
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t at = s.find(old, start);
    if (at == std::string_view::npos) break;
    out.append(s.substr(start, at - start));
    out.append(replacement);
    check_string_size(out, "replace's text");
    start = at + old.size();
    ++done;
  }
  out.append(s.substr(start));
  return out;
}

namespace {

// Simple (one-to-one) case mappings: CPython uses the full mappings, which
// differ only for a few characters ("ß".upper() is "SS" there, "ß" here).
char32_t upper_of(char32_t cp) { return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp))); }
char32_t lower_of(char32_t cp) { return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))); }
char32_t title_of(char32_t cp) { return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(cp))); }

bool is_cased(char32_t cp) {
  const auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
  return c == UTF8PROC_CATEGORY_LU || c == UTF8PROC_CATEGORY_LL || c == UTF8PROC_CATEGORY_LT;
}

template <typename Map>
std::string map_code_points(std::string_view s, Map map) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) append_utf8(out, map(next_code_point(s, i)));
  return out;
}

}  // namespace

std::string py_upper(std::string_view s) { return map_code_points(s, upper_of); }
std::string py_lower(std::string_view s) { return map_code_points(s, lower_of); }

std::string py_capitalize(std::string_view s) {
  bool first = true;
  return map_code_points(s, [&](char32_t cp) {
    const char32_t mapped = first ? title_of(cp) : lower_of(cp);
    first = false;
    return mapped;
  });
}

std::string py_title(std::string_view s) {
  bool previous_cased = false;
  return map_code_points(s, [&](char32_t cp) {
    const char32_t mapped = previous_cased ? lower_of(cp) : title_of(cp);
    previous_cased = is_cased(cp);
    return mapped;
  });
}

std::string jinja_title(std::string_view s) {
  // jinja2: "".join(w[0].upper() + w[1:].lower() for w in re.split(r"([-\s({\[<]+)", s) if w)
  const auto is_break = [](char32_t cp) {
    return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || is_python_space(cp);
  };
  const auto cps = code_points(s);
  std::string out;
  size_t i = 0;
  while (i < cps.size()) {
    size_t j = i;
    const bool breaking = is_break(cps[i]);
    while (j < cps.size() && is_break(cps[j]) == breaking) ++j;
    for (size_t k = i; k < j; ++k) append_utf8(out, k == i ? upper_of(cps[k]) : lower_of(cps[k]));
    i = j;
  }
  return out;
}

std::string py_repr_string(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    const char32_t cp = next_code_point(s, i);
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x20 || cp == 0x7F) {
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
      out += buf;
    } else if (cp < 0x7F) {
      out += static_cast<char>(cp);
    } else {
      // Python keeps printable characters: everything but categories C* and Z*.
      const auto c = utf8proc_category(static_cast<utf8proc_int32_t>(cp));
      const bool printable = !(c == UTF8PROC_CATEGORY_CN || c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF ||
                               c == UTF8PROC_CATEGORY_CS || c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_ZS ||
                               c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP);
      if (printable) {
        append_utf8(out, cp);
      } else {
        std::snprintf(buf, sizeof buf, cp < 0x100 ? "\\x%02x" : cp < 0x10000 ? "\\u%04x" : "\\U%08x",
                      static_cast<unsigned>(cp));
        out += buf;
      }
    }
  }
  out += quote;
  return out;
}

}  // namespace opd::tokenizer::jinja
