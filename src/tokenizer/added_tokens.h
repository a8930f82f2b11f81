// Private to src/tokenizer: the added tokens of tokenizer.json (special
// tokens such as <|im_start|>, and others such as <think>), which are matched
// in the raw text before anything else and never split by BPE.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace opd::tokenizer {

struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool special = false;
  bool lstrip = false, rstrip = false;  // absorb whitespace on that side
  bool single_word = false;             // only where no word character touches it
};

// Text cut at the added tokens: plain segments and token ids, in order.
struct Segment {
  std::string_view text;  // empty for an added token
  int64_t id = -1;        // the added token's id, or -1 for text
};

class AddedTokens {
 public:
  AddedTokens() = default;
  // `where` names the list in errors ("tokenizer.json: added_tokens").
  AddedTokens(const nlohmann::json& list, const std::string& where);

  // Leftmost-longest matches of the added tokens in `text`.
  std::vector<Segment> split(std::string_view text) const;

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  const AddedToken* find(int64_t id) const;

 private:
  std::vector<AddedToken> tokens_;
  std::unordered_map<int64_t, size_t> by_id_;
  // Trie over the tokens' bytes: node -> (byte -> child), and the token ending there.
  std::vector<std::unordered_map<unsigned char, int32_t>> trie_{1};
  std::vector<int32_t> ends_{-1};
};

}  // namespace opd::tokenizer
