// Which prompts each step draws: seeded epochs over a dataset, shardable by
// rank, and resumable from a two-number state.
#pragma once

#include <cstdint>
#include <vector>

namespace opd::data {

// Where a sampler stands: resuming from it continues the same stream.
struct SamplerState {
  int64_t epoch = -1;  // -1: nothing drawn yet
  int64_t cursor = 0;  // position within the epoch's order
};

// Each epoch is a permutation (or the identity without shuffle) that depends
// only on (seed, epoch); the same seed gives the same stream.
class PromptSampler {
 public:
  PromptSampler(int64_t dataset_size, uint64_t seed, bool shuffle);
  // The next n indices, crossing epoch boundaries as needed.
  std::vector<int64_t> next(int64_t n);
  // Rank `rank` of `world`'s share of the next global batch of n: the
  // contiguous slice [rank * n / world, (rank + 1) * n / world). Every rank
  // advances by the whole n, so the union over ranks is what one process
  // would draw. Throws unless world divides n.
  std::vector<int64_t> next_shard(int64_t n, int64_t rank, int64_t world);

  SamplerState state() const { return {epoch_, cursor_}; }
  // Continues from a state() of a sampler with the same size, seed and shuffle.
  void restore(const SamplerState& state);
  int64_t epoch() const { return epoch_; }

 private:
  void start_epoch(int64_t epoch);
  int64_t size_;
  uint64_t seed_;
  bool shuffle_;
  int64_t epoch_ = -1, cursor_ = 0;
  std::vector<int64_t> order_;
};

}  // namespace opd::data
