// A tokenizer read from a SentencePiece `.model` file (BPE or unigram),
// through libsentencepiece.
#pragma once

#include "opd/tokenizer/tokenizer.h"

#include <memory>
#include <string>

namespace opd::tokenizer {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  // Throws naming the file when it cannot be read as a SentencePiece model.
  static std::unique_ptr<SentencePieceTokenizer> from_file(const std::string& path);
  ~SentencePieceTokenizer() override;

  // add_special_tokens adds the model's BOS (when it has one) in front.
  std::vector<int64_t> encode(std::string_view text, bool add_special_tokens = false) const override;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const override;
  int64_t vocab_size() const override;
  std::optional<int64_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int64_t id) const override;
  // Control and unknown pieces (<s>, </s>, <unk>, ...).
  bool is_special(int64_t id) const override;

 private:
  SentencePieceTokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace opd::tokenizer
