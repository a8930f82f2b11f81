// Byte-level BPE trained on a corpus, from the character tokenizer's
// alphabet: the paper harness's casts read it to get a vocabulary of
// thousands of tokens (where a teacher's top-k can leave mass out) instead of
// one token per character. Written as a tokenizer.json that HfTokenizer and
// Hugging Face `tokenizers` read alike.
#pragma once

#include "opd/tokenizer/char_tokenizer.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace opd::tokenizer {

struct BpeTraining {
  std::string tokenizer_json;
  // In rank order, each pair as the texts of its two tokens.
  std::vector<std::pair<std::string, std::string>> merges;
};

// Qwen2/3's pre-tokenizer regex: digits one by one, letter runs with at most
// one mark before them, runs of other marks with the newlines after them,
// whitespace runs. Merges stay within its pieces, as in the models the papers
// distil (so "12" is two tokens, "\boxed" can be one).
const std::string& qwen3_split_pattern();

// Learns merges on `texts` until the vocabulary has vocab_size ids: the texts
// are cut by qwen3_split_pattern(), then each step merges the adjacent token
// pair that occurs most often within those pieces (ties: the pair whose
// left, then right, token text sorts first, bytewise), left to right
// without overlap, as encoding applies them. Two merges can spell the same
// token; it keeps one id. Ids: the alphabet (as char_tokenizer_json), the
// merged tokens in the order they were made, then <|endoftext|>,
// <|im_start|>, <|im_end|>. Throws when a text holds a character outside the
// alphabet, when vocab_size leaves no room for a merge, or when the texts
// run out of pairs seen twice before the vocabulary is full.
BpeTraining train_bpe(const std::vector<std::string>& texts, int64_t vocab_size,
                      const std::string& alphabet = default_char_alphabet());

}  // namespace opd::tokenizer
