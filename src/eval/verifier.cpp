#include "opd/eval/verifier.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <regex>

namespace opd::eval {
namespace {

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
}

// The braced group starting at s[open] == '{': its content and the index past it.
std::optional<std::pair<std::string, size_t>> braced(const std::string& s, size_t open) {
  if (open >= s.size() || s[open] != '{') return std::nullopt;
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return std::make_pair(s.substr(open + 1, i - open - 1), i + 1);
  }
  return std::nullopt;
}

// \frac{a}{b} (and \frac12) -> (a)/(b), innermost first.
std::string expand_fracs(std::string s) {
  for (size_t pos; (pos = s.rfind("\\frac")) != std::string::npos;) {
    size_t i = pos + 5;
    std::string a, b;
    auto one_arg = [&](std::string& out) {
      if (i < s.size() && s[i] == '{') {
        auto g = braced(s, i);
        if (!g) return false;
        out = g->first;
        i = g->second;
      } else if (i < s.size()) {
        out = std::string(1, s[i++]);  // \frac12
      } else {
        return false;
      }
      return true;
    };
    if (!one_arg(a) || !one_arg(b)) break;
    s.replace(pos, i - pos, "(" + a + ")/(" + b + ")");
  }
  return s;
}

// The number a canonical answer denotes: an integer, a decimal, or a
// fraction of two, with an optional sign and parentheses.
std::optional<double> as_number(const std::string& text) {
  const bool negative = !text.empty() && text.front() == '-';
  const std::string s = negative ? text.substr(1) : text;
  static const std::regex number(R"(^\(?(-?\d+(\.\d+)?)\)?(/\(?(-?\d+(\.\d+)?)\)?)?$)");
  std::smatch m;
  if (!std::regex_match(s, m, number)) return std::nullopt;
  double value = std::strtod(m[1].str().c_str(), nullptr);
  if (m[3].matched) {
    const double d = std::strtod(m[4].str().c_str(), nullptr);
    if (d == 0) return std::nullopt;
    value /= d;
  }
  return negative ? -value : value;
}

class MathBoxed final : public Verifier {
 public:
  std::string_view name() const override { return "math_boxed"; }
  std::optional<std::string> extract(std::string_view response) const override { return last_boxed(response); }
  bool correct(std::string_view response, std::string_view reference) const override {
    const auto given = extract(response);
    if (!given) return false;
    const std::string a = normalize_math_answer(*given), b = normalize_math_answer(reference);
    if (a == b) return true;
    const auto x = as_number(a), y = as_number(b);
    return x && y && std::fabs(*x - *y) <= 1e-6 * std::max(1.0, std::fabs(*y));
  }
};

class ExactMatch final : public Verifier {
 public:
  std::string_view name() const override { return "exact_match"; }
  std::optional<std::string> extract(std::string_view response) const override { return trim(response); }
  bool correct(std::string_view response, std::string_view reference) const override {
    return trim(response) == trim(reference);
  }
};

}  // namespace

std::optional<std::string> last_boxed(std::string_view text) {
  const std::string s(text);
  size_t best = std::string::npos;
  for (const std::string marker : {"\\boxed", "\\fbox"}) {
    const auto pos = s.rfind(marker);
    if (pos != std::string::npos && (best == std::string::npos || pos > best)) best = pos;
  }
  if (best == std::string::npos) return std::nullopt;
  size_t open = s.find('{', best);
  if (open == std::string::npos) return std::nullopt;
  // Only spaces may stand between the command and its brace.
  for (size_t i = best + 1; i < open; ++i) {
    if (!std::isalpha(static_cast<unsigned char>(s[i])) && s[i] != ' ') return std::nullopt;
  }
  auto g = braced(s, open);
  if (!g) return std::nullopt;
  return g->first;
}

std::string normalize_math_answer(std::string_view answer) {
  std::string s = trim(answer);
  // Math-mode and spacing commands that change nothing.
  for (const char* cmd : {"\\left", "\\right", "\\displaystyle", "\\!", "\\,", "\\;", "\\:", "\\quad", "\\qquad"}) {
    replace_all(s, cmd, "");
  }
  replace_all(s, "\\dfrac", "\\frac");
  replace_all(s, "\\tfrac", "\\frac");
  replace_all(s, "\\$", "");  // an escaped dollar sign: \$5 is 5
  replace_all(s, "$", "");
  // \sqrt2 -> \sqrt{2}: one-token arguments written without braces.
  static const std::regex bare_sqrt(R"(\\sqrt([0-9a-zA-Z]))");
  s = std::regex_replace(s, bare_sqrt, "\\sqrt{$1}");
  // Trailing units and decorations: \text{...} / \mbox{...} groups, degrees,
  // percent; unless the group is the whole answer (\text{(B)} is the answer B).
  static const std::regex unit(R"((\\(text|mbox|mathrm)\{[^{}]*\})+\s*$)");
  const std::string without_units = std::regex_replace(s, unit, "");
  if (!trim(without_units).empty()) s = without_units;
  for (const char* deco : {"^\\circ", "^{\\circ}", "\\circ", "°", "\\%", "%"}) replace_all(s, deco, "");
  // What remains of \text{...} elsewhere is its content.
  static const std::regex text(R"(\\(text|mbox|mathrm)\{([^{}]*)\})");
  s = std::regex_replace(s, text, "$2");
  s = expand_fracs(s);
  // Spaces, then "x = 3" -> "3", thousands separators, a trailing period.
  std::string no_space;
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) no_space += c;
  }
  s = no_space;
  static const std::regex assignment(R"(^[a-zA-Z]=)");
  s = std::regex_replace(s, assignment, "");
  static const std::regex thousands(R"(^(-?\d{1,3})((,\d{3})+)(\.\d+)?$)");
  if (std::regex_match(s, thousands)) replace_all(s, ",", "");
  while (!s.empty() && s.back() == '.') s.pop_back();
  // Parentheses around a plain number: "(5)" -> "5"; a leading "+".
  static const std::regex paren(R"(^\((-?\d+(\.\d+)?)\)$)");
  s = std::regex_replace(s, paren, "$1");
  // A multiple-choice letter in parentheses: "(B)" -> "B".
  static const std::regex choice(R"(^\(([A-Za-z])\)$)");
  s = std::regex_replace(s, choice, "$1");
  if (!s.empty() && s.front() == '+') s.erase(0, 1);
  // 0.50 -> 0.5, 3.0 -> 3.
  static const std::regex decimal(R"(^(-?\d+)\.(\d*?)0+$)");
  s = std::regex_replace(s, decimal, "$1.$2");
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::vector<std::string> verifier_names() { return {"math_boxed", "exact_match"}; }

std::unique_ptr<Verifier> make_verifier(const std::string& name) {
  if (name == "math_boxed") return std::make_unique<MathBoxed>();
  if (name == "exact_match") return std::make_unique<ExactMatch>();
  TORCH_CHECK(false, "unknown verifier '", name, "' (known: math_boxed, exact_match)");
}

}  // namespace opd::eval
