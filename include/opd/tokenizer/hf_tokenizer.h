// A tokenizer read from a Hugging Face `tokenizer.json`: added tokens,
// normalizer, pre-tokenizer, BPE model, post-processor and decoder, each
// built from the file (Qwen2/3's NFC + regex split + byte-level BPE, Llama 3's
// regex split + byte-level BPE with ignore_merges, SentencePiece-style BPE
// with byte fallback, ...).
#pragma once

#include "opd/tokenizer/tokenizer.h"

#include <memory>
#include <string>

namespace opd::tokenizer {

class HfTokenizer final : public Tokenizer {
 public:
  // Throws naming the file and the JSON path of a component or option opd
  // does not support, or of malformed content.
  static std::unique_ptr<HfTokenizer> from_file(const std::string& path);
  // The same from the file's text; `where` (a file name) prefixes every error.
  static std::unique_ptr<HfTokenizer> from_json_text(const std::string& text, const std::string& where);
  ~HfTokenizer() override;

  std::vector<int64_t> encode(std::string_view text, bool add_special_tokens = false) const override;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const override;
  int64_t vocab_size() const override;
  std::optional<int64_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int64_t id) const override;
  bool is_special(int64_t id) const override;

 private:
  HfTokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace opd::tokenizer
