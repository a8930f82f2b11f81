#include "opd/rollout/prefix_schedule.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace opd::rollout {
namespace {

TEST(PrefixSchedule, CosineFromLToZero) {
  PrefixSchedule s{512, 100, false};
  EXPECT_EQ(s.cap(0), 512);
  EXPECT_EQ(s.cap(50), 256);  // halfway: L / 2
  EXPECT_EQ(s.cap(25), 437);  // 512 (1 + cos(pi / 4)) / 2 = 437.02
  EXPECT_EQ(s.cap(100), 0);   // the end: pure on-policy
  EXPECT_EQ(s.cap(250), 0);
  for (int64_t step = 1; step < 100; ++step) EXPECT_LE(s.cap(step), s.cap(step - 1));
  EXPECT_EQ(s.lengths(50, 4, 1), (std::vector<int64_t>{256, 256, 256, 256}));
  opd::testing::expect_error([] { PrefixSchedule{8, 0, false}.cap(1); }, {"anneal_steps > 0"});
}

// Uniform lengths lie in [0, cap], depend only on (seed, step, row), and
// spread over the range.
TEST(PrefixSchedule, UniformLengthsAreReproducibleAndBounded) {
  PrefixSchedule s{64, 10, true};
  const auto a = s.lengths(3, 4000, 7);
  EXPECT_EQ(a, s.lengths(3, 4000, 7));
  EXPECT_NE(a, s.lengths(4, 4000, 7));
  EXPECT_NE(a, s.lengths(3, 4000, 8));
  const int64_t cap = s.cap(3);
  EXPECT_EQ(*std::min_element(a.begin(), a.end()), 0);
  EXPECT_EQ(*std::max_element(a.begin(), a.end()), cap);
  double mean = 0;
  for (int64_t l : a) mean += double(l) / double(a.size());
  EXPECT_NEAR(mean, cap / 2.0, cap * 0.05);
  // Rows keep their draw when the batch is split (first_row).
  const auto tail = s.lengths(3, 1000, 7, 3000);
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), a.begin() + 3000));
}

}  // namespace
}  // namespace opd::rollout
