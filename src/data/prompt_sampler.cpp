#include "opd/data/prompt_sampler.h"

#include <c10/util/Exception.h>

#include <numeric>
#include <random>

namespace opd::data {

PromptSampler::PromptSampler(int64_t dataset_size, uint64_t seed, bool shuffle)
    : size_(dataset_size), seed_(seed), shuffle_(shuffle) {
  TORCH_CHECK(dataset_size > 0, "PromptSampler: empty dataset");
}

void PromptSampler::start_epoch(int64_t epoch) {
  epoch_ = epoch;
  cursor_ = 0;
  order_.resize(static_cast<size_t>(size_));
  std::iota(order_.begin(), order_.end(), 0);
  if (shuffle_) {
    // A fresh engine per epoch, so an epoch's order depends only on (seed, epoch).
    std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch_));
    for (int64_t i = size_ - 1; i > 0; --i) {
      std::uniform_int_distribution<int64_t> pick(0, i);
      std::swap(order_[i], order_[pick(rng)]);
    }
  }
}

std::vector<int64_t> PromptSampler::next(int64_t n) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(n));
  while (static_cast<int64_t>(out.size()) < n) {
    if (epoch_ < 0 || cursor_ == size_) start_epoch(epoch_ + 1);
    out.push_back(order_[static_cast<size_t>(cursor_++)]);
  }
  return out;
}

std::vector<int64_t> PromptSampler::next_shard(int64_t n, int64_t rank, int64_t world) {
  TORCH_CHECK(world > 0 && rank >= 0 && rank < world && n % world == 0, "PromptSampler: a global batch of ",
              n, " prompts cannot be split evenly over ", world, " ranks (rank ", rank, ")");
  auto all = next(n);
  const int64_t per = n / world;
  return std::vector<int64_t>(all.begin() + rank * per, all.begin() + (rank + 1) * per);
}

void PromptSampler::restore(const SamplerState& state) {
  TORCH_CHECK(state.epoch >= -1 && state.cursor >= 0 && state.cursor <= size_,
              "PromptSampler: cannot restore epoch ", state.epoch, " cursor ", state.cursor,
              " over a dataset of ", size_);
  if (state.epoch < 0) {
    epoch_ = -1;
    cursor_ = 0;
    return;
  }
  start_epoch(state.epoch);
  cursor_ = state.cursor;
}

}  // namespace opd::data
