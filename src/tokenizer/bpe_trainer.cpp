#include "opd/tokenizer/bpe_trainer.h"

#include "byte_level_bpe_json.h"
#include "check.h"
#include "pre_tokenizer.h"

#include <nlohmann/json.hpp>

#include <array>
#include <map>
#include <tuple>
#include <unordered_map>

namespace opd::tokenizer {
namespace {

// One distinct piece of text: its current tokens and how often the texts hold it.
struct Word {
  std::vector<int32_t> ids;
  int64_t count = 0;
};

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(left) << 32) | static_cast<uint32_t>(right);
}

// Adds (sign = 1) or removes (sign = -1) the word's adjacent pairs, dropping
// pairs no text holds any more so that the search for the best stays small.
void count_pairs(const Word& w, int64_t sign, std::unordered_map<uint64_t, int64_t>& pairs) {
  for (size_t i = 0; i + 1 < w.ids.size(); ++i) {
    const uint64_t key = pair_key(w.ids[i], w.ids[i + 1]);
    if ((pairs[key] += sign * w.count) == 0) pairs.erase(key);
  }
}

bool holds_pair(const Word& w, int32_t left, int32_t right) {
  for (size_t i = 0; i + 1 < w.ids.size(); ++i) {
    if (w.ids[i] == left && w.ids[i + 1] == right) return true;
  }
  return false;
}

void merge_pair(Word& w, int32_t left, int32_t right, int32_t merged) {
  size_t out = 0;
  for (size_t i = 0; i < w.ids.size(); ++i) {
    if (i + 1 < w.ids.size() && w.ids[i] == left && w.ids[i + 1] == right) {
      w.ids[out++] = merged;
      ++i;
    } else {
      w.ids[out++] = w.ids[i];
    }
  }
  w.ids.resize(out);
}

}  // namespace

const std::string& qwen3_split_pattern() {
  static const std::string pattern =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  return pattern;
}

BpeTraining train_bpe(const std::vector<std::string>& texts, int64_t vocab_size, const std::string& alphabet) {
  (void)char_tokenizer_json(alphabet);  // checks the alphabet
  const auto base = static_cast<int64_t>(alphabet.size()) + 3;
  check(vocab_size > base, "train_bpe: vocab_size ", vocab_size, " leaves no room for a merge (the alphabet and the ",
        "special tokens take ", base, ")");
  std::array<int32_t, 256> id_of;
  id_of.fill(-1);
  std::vector<std::string> tokens;
  for (const char c : alphabet) {
    id_of[static_cast<unsigned char>(c)] = static_cast<int32_t>(tokens.size());
    tokens.emplace_back(1, c);
  }
  const auto split = make_pre_tokenizer(split_pre_tokenizer(qwen3_split_pattern()), "train_bpe");
  std::map<std::string, int64_t> distinct;  // the pieces the texts split into, with their counts
  for (size_t t = 0; t < texts.size(); ++t) {
    for (const char c : texts[t]) {
      check(id_of[static_cast<unsigned char>(c)] >= 0, "train_bpe: text ", t, " holds the byte ",
            int(static_cast<unsigned char>(c)), ", which the alphabet does not");
    }
    for (auto& piece : split->split({texts[t]})) ++distinct[std::move(piece)];
  }
  std::vector<Word> words;
  std::unordered_map<uint64_t, int64_t> pairs;
  for (const auto& [text, count] : distinct) {
    Word w;
    w.count = count;
    for (const char c : text) w.ids.push_back(id_of[static_cast<unsigned char>(c)]);
    count_pairs(w, 1, pairs);
    words.push_back(std::move(w));
  }
  std::unordered_map<std::string, int32_t> id_of_token;
  for (size_t i = 0; i < tokens.size(); ++i) id_of_token[tokens[i]] = static_cast<int32_t>(i);

  std::vector<std::pair<std::string, std::string>> merges;
  while (static_cast<int64_t>(tokens.size()) + 3 < vocab_size) {
    int64_t best_count = 0;
    int32_t left = -1, right = -1;
    for (const auto& [key, count] : pairs) {
      const auto l = static_cast<int32_t>(key >> 32), r = static_cast<int32_t>(key & 0xffffffffu);
      const bool better = count > best_count ||
                          (count == best_count && std::tie(tokens[l], tokens[r]) < std::tie(tokens[left], tokens[right]));
      if (better) best_count = count, left = l, right = r;
    }
    check(best_count >= 2, "train_bpe: after ", merges.size(), " merges no pair of tokens occurs twice in the texts, ",
          "so they fill a vocabulary of at most ", tokens.size() + 3, ", not ", vocab_size);
    // Two merges can spell the same token ("ab"+"c", "a"+"bc"): it keeps one id.
    const std::string text = tokens[left] + tokens[right];
    auto [it, added] = id_of_token.emplace(text, static_cast<int32_t>(tokens.size()));
    if (added) tokens.push_back(text);
    merges.emplace_back(tokens[left], tokens[right]);
    for (auto& w : words) {
      if (!holds_pair(w, left, right)) continue;
      count_pairs(w, -1, pairs);
      merge_pair(w, left, right, it->second);
      count_pairs(w, 1, pairs);
    }
  }
  std::string json = byte_level_bpe_json(tokens, merges, qwen3_split_pattern());
  return {std::move(json), std::move(merges)};
}

}  // namespace opd::tokenizer
