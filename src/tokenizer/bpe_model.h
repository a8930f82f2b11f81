// Private to src/tokenizer: the BPE model of tokenizer.json: a vocabulary
// and ranked merges, applied to one pre-tokenized word at a time.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace opd::tokenizer {

class BpeModel {
 public:
  // From the "model" object of tokenizer.json (type BPE). Throws naming
  // `where` and the option when it uses one opd does not support, or when a
  // merge names a token missing from the vocabulary.
  BpeModel(const nlohmann::json& spec, const std::string& where);

  // Appends the ids of one word (in the vocabulary's alphabet, e.g. already
  // byte-level mapped).
  void encode_word(std::string_view word, std::vector<int64_t>& out) const;

  const std::unordered_map<std::string, int64_t>& vocab() const { return vocab_; }

 private:
  void merge(std::vector<int64_t>& symbols) const;

  std::unordered_map<std::string, int64_t> vocab_;
  // (left id << 32 | right id) -> (rank, merged id)
  std::unordered_map<uint64_t, std::pair<int32_t, int64_t>> merges_;
  bool ignore_merges_ = false;
  bool byte_fallback_ = false;
  std::optional<int64_t> unk_id_;
  bool fuse_unk_ = false;

  // Words seen before, with their ids: most text repeats its words.
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache_;
};

}  // namespace opd::tokenizer
