// Seed streams and token keys: the conventions every per-token or per-row
// draw of a run is keyed by. Their values are part of a run's
// reproducibility (a checkpoint resumes on them), so they are pinned.
#include "opd/core/seed_streams.h"
#include "opd/core/token_keys.h"
#include "support/test_support.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>

namespace opd {
namespace {

TEST(SeedStreams, ValuesArePinned) {
  // Computed independently (Python integers) from the documented mix; a
  // change here changes every run's draws and breaks resuming old checkpoints.
  EXPECT_EQ(draw_seed(0, SeedStream::kStudentRollout, 0), 0x9b95749339c9cb72ull);
  EXPECT_EQ(draw_seed(42, SeedStream::kTeacherPrefix, 7), 0xb98dd0f6d53ef212ull);
  EXPECT_EQ(draw_seed(42, SeedStream::kLoraDropout, 7), 0xd475432c50eaaff8ull);
}

TEST(SeedStreams, StreamsStepsAndSeedsNeverShare) {
  const SeedStream streams[] = {SeedStream::kStudentRollout, SeedStream::kEvaluation, SeedStream::kTeacherRollout,
                                SeedStream::kPrefixLengths,  SeedStream::kTeacherPrefix, SeedStream::kLoraInit,
                                SeedStream::kLoraDropout};
  std::set<uint64_t> seen;
  size_t draws = 0;
  for (uint64_t seed : {0ull, 1ull, 1234ull}) {
    for (auto stream : streams) {
      for (int64_t step = 0; step < 50; ++step) {
        seen.insert(draw_seed(seed, stream, step));
        ++draws;
      }
    }
  }
  EXPECT_EQ(seen.size(), draws);
}

TEST(TokenKeys, GlobalRowTimesStrideplusPosition) {
  const auto keys = token_keys(/*first_row=*/3, /*rows=*/2, /*positions=*/4);
  ASSERT_EQ(keys.sizes(), (at::IntArrayRef{2, 4}));
  ASSERT_EQ(keys.scalar_type(), at::kLong);
  for (int64_t r = 0; r < 2; ++r) {
    for (int64_t t = 0; t < 4; ++t) EXPECT_EQ(keys[r][t].item<int64_t>(), (3 + r) * kRowStride + t);
  }
  // A rank's slice of the batch has the keys of those rows of the whole batch.
  EXPECT_TRUE(at::equal(token_keys(0, 5, 4).slice(0, 3, 5), keys));
  testing::expect_error([] { token_keys(-1, 2, 3); }, {"token_keys", "first_row -1"});
  testing::expect_error([] { token_keys(0, 2, kRowStride); }, {"token_keys", "positions"});
}

}  // namespace
}  // namespace opd
