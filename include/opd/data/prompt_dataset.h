// Prompts for rollouts, read from JSONL. Until tokenizers land, a line holds
// token ids: {"prompt_ids": [151644, 872, ...]}, optionally with a reference
// solution {"response_ids": [...]} for objectives that train on the dataset's
// answers (other keys are kept for later layers and ignored here).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace opd::data {

struct Prompt {
  std::vector<int64_t> ids;           // prompt token ids
  std::vector<int64_t> response_ids;  // reference solution; empty when the line has none
  int64_t line = 0;          // 1-based line in the source file
};

class PromptDataset {
 public:
  // Reads every non-blank line. Throws naming the file and line number on
  // malformed JSON, a missing or empty `prompt_ids`, an empty
  // `response_ids`, or a non-integer id in either.
  static PromptDataset from_jsonl(const std::string& path);
  static PromptDataset from_prompts(std::vector<Prompt> prompts);

  int64_t size() const { return static_cast<int64_t>(prompts_.size()); }
  const Prompt& operator[](int64_t i) const { return prompts_.at(static_cast<size_t>(i)); }
  // The file the prompts came from ("" for from_prompts).
  const std::string& path() const { return path_; }
  // Throws when a prompt or response id is outside [0, vocab_size), naming the line.
  void check_vocab(int64_t vocab_size, const std::string& what) const;

 private:
  std::string path_;
  std::vector<Prompt> prompts_;
};

// Seeded epoch-wise order over a dataset: each epoch is a permutation (or the
// identity without shuffle); the same seed gives the same stream.
class PromptSampler {
 public:
  PromptSampler(int64_t dataset_size, uint64_t seed, bool shuffle);
  // The next n indices, crossing epoch boundaries as needed.
  std::vector<int64_t> next(int64_t n);
  int64_t epoch() const { return epoch_; }
  int64_t position() const { return cursor_; }

 private:
  void start_epoch();
  int64_t size_;
  uint64_t seed_;
  bool shuffle_;
  int64_t epoch_ = -1, cursor_ = 0;
  std::vector<int64_t> order_;
};

}  // namespace opd::data
