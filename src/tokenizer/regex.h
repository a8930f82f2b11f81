// Private to src/tokenizer: a compiled regular expression with the Unicode
// classes tokenizer.json patterns use (\p{L}, \p{N}, lookahead), on PCRE2
// in UTF mode with Unicode properties, JIT-compiled when the platform can.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace opd::tokenizer {

class Regex {
 public:
  // Throws naming `where` and the pattern when it does not compile.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // [begin, end) byte ranges of the successive non-overlapping matches.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

  // Escapes `literal` so that it matches itself.
  static std::string escape(std::string_view literal);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A tokenizer.json pattern, {"String": literal} or {"Regex": pattern};
// throws naming `where` on anything else.
Regex pattern_from_json(const nlohmann::json& pattern, const std::string& where);

}  // namespace opd::tokenizer
