// Text <-> token ids, the way the model's own tokenizer does it. One
// interface over HF `tokenizer.json` (byte-level BPE: Qwen2/3, Llama 3, ...)
// and SentencePiece `.model` files; load_tokenizer picks by what the model
// directory holds.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace opd::tokenizer {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Token ids of `text`. Special and added tokens written in the text (e.g.
  // "<|im_start|>") become their ids; add_special_tokens adds what the
  // tokenizer's post-processor adds around a sequence (e.g. a BOS).
  virtual std::vector<int64_t> encode(std::string_view text,
                                      bool add_special_tokens = false) const = 0;
  // The text of `ids`; special tokens are written out unless skip_special.
  // Ids at or past vocab_size() are skipped, as Hugging Face's tokenizers
  // does: a model's embedding may be padded past its tokenizer (Qwen3 has
  // 151936 rows for 151669 ids). Throws on a negative id.
  virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const = 0;

  // Number of ids (the largest id + 1, added tokens included).
  virtual int64_t vocab_size() const = 0;
  // The id of a token given as its vocabulary string (e.g. "<|im_end|>").
  virtual std::optional<int64_t> token_to_id(std::string_view token) const = 0;
  // The vocabulary string of an id; throws when out of range.
  virtual std::string id_to_token(int64_t id) const = 0;
  // Whether an id is a special token (skipped by decode(..., true)).
  virtual bool is_special(int64_t id) const = 0;

  // encode() of every text, in parallel over texts.
  std::vector<std::vector<int64_t>> encode_batch(const std::vector<std::string>& texts,
                                                 bool add_special_tokens = false) const;
};

// The tokenizer of a model directory: tokenizer.json if present, else
// tokenizer.model (SentencePiece). `path` may also name either file. Throws
// naming the path when neither exists, and naming the component when the
// file uses one opd does not support.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace opd::tokenizer
