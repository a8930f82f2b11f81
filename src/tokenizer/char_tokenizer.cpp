#include "opd/tokenizer/char_tokenizer.h"

#include "byte_level.h"
#include "check.h"

#include <nlohmann/json.hpp>

#include <set>

namespace opd::tokenizer {

const std::string& default_char_alphabet() {
  static const std::string alphabet =
      std::string(" \n") + "abcdefghijklmnopqrstuvwxyz" + "0123456789" + "+-*/=.,:?!()[]{}\\^_'\"<>";
  return alphabet;
}

std::string char_tokenizer_json(const std::string& alphabet) {
  nlohmann::json vocab = nlohmann::json::object();
  std::set<char> seen;
  for (size_t i = 0; i < alphabet.size(); ++i) {
    const char c = alphabet[i];
    check(c == ' ' || c == '\n' || (c > ' ' && c < 127), "char_tokenizer_json: character ", int(c),
          " is not printable ASCII, space or newline");
    check(seen.insert(c).second, "char_tokenizer_json: '", c, "' appears twice in the alphabet");
    vocab[bytes_to_unicode(std::string(1, c))] = static_cast<int64_t>(i);
  }
  const int64_t n = static_cast<int64_t>(alphabet.size());
  nlohmann::json added = nlohmann::json::array();
  int64_t id = n;
  for (const char* special : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    added.push_back({{"id", id++}, {"content", special}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  nlohmann::json j = {
      {"version", "1.0"},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}},
      {"post_processor", {{"type", "ByteLevel"}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", nlohmann::json::array()}}},
  };
  return j.dump(1);
}

}  // namespace opd::tokenizer
