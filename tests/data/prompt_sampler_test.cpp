#include "opd/data/prompt_sampler.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <set>

namespace opd::data {
namespace {

TEST(PromptSampler, EpochsArePermutationsAndSeedsReproduce) {
  PromptSampler a(10, 42, true), b(10, 42, true), c(10, 43, true);
  auto first = a.next(10);
  EXPECT_EQ(std::set<int64_t>(first.begin(), first.end()).size(), 10u);
  EXPECT_EQ(first, b.next(10));
  EXPECT_NE(first, c.next(10));
  auto second = a.next(10);
  EXPECT_EQ(a.epoch(), 1);
  EXPECT_NE(first, second);
  PromptSampler plain(3, 0, false);
  EXPECT_EQ(plain.next(5), (std::vector<int64_t>{0, 1, 2, 0, 1}));
}

// A sampler restored from another's state continues its stream exactly,
// across epoch boundaries too.
TEST(PromptSampler, RestoredStateContinuesTheStream) {
  PromptSampler a(7, 5, true);
  a.next(3);
  a.next(6);  // into epoch 1
  const auto state = a.state();
  EXPECT_EQ(state.epoch, 1);
  EXPECT_EQ(state.cursor, 2);
  PromptSampler b(7, 5, true);
  b.restore(state);
  EXPECT_EQ(b.next(20), a.next(20));
  PromptSampler fresh(7, 5, true), reset(7, 5, true);
  reset.next(4);
  reset.restore(SamplerState{});
  EXPECT_EQ(reset.next(9), fresh.next(9));
  opd::testing::expect_error([&] { reset.restore({0, 8}); }, {"cursor 8", "dataset of 7"});
}

// The ranks' shards of a global batch are disjoint slices whose union is
// what one process draws.
TEST(PromptSampler, ShardsPartitionTheGlobalBatch) {
  PromptSampler single(11, 3, true);
  std::vector<PromptSampler> ranks(4, PromptSampler(11, 3, true));
  for (int step = 0; step < 5; ++step) {
    const auto global = single.next(8);
    std::vector<int64_t> joined;
    for (int64_t r = 0; r < 4; ++r) {
      const auto shard = ranks[r].next_shard(8, r, 4);
      EXPECT_EQ(shard.size(), 2u);
      joined.insert(joined.end(), shard.begin(), shard.end());
    }
    EXPECT_EQ(joined, global) << "step " << step;
  }
  opd::testing::expect_error([&] { single.next_shard(6, 0, 4); }, {"6 prompts", "4 ranks"});
}

}  // namespace
}  // namespace opd::data
