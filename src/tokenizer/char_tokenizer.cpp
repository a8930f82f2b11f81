#include "opd/tokenizer/char_tokenizer.h"

#include "byte_level_bpe_json.h"
#include "check.h"

#include <set>
#include <vector>

namespace opd::tokenizer {

const std::string& default_char_alphabet() {
  static const std::string alphabet =
      std::string(" \n") + "abcdefghijklmnopqrstuvwxyz" + "0123456789" + "+-*/=.,:?!()[]{}\\^_'\"<>";
  return alphabet;
}

std::string char_tokenizer_json(const std::string& alphabet) {
  std::set<char> seen;
  std::vector<std::string> tokens;
  for (const char c : alphabet) {
    check(c == ' ' || c == '\n' || (c > ' ' && c < 127), "char_tokenizer_json: character ", int(c),
          " is not printable ASCII, space or newline");
    check(seen.insert(c).second, "char_tokenizer_json: '", c, "' appears twice in the alphabet");
    tokens.emplace_back(1, c);
  }
  return byte_level_bpe_json(tokens, {});
}

}  // namespace opd::tokenizer
