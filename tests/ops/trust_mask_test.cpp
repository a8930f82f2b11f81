#include "opd/ops/trust_mask.h"

#include "opd/ops/counter_uniform.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace opd::ops {
namespace {

// Philox4x32-10 as the header spells it out, written again here so that a
// change to the bits (which would change every past run's masks) fails a test.
std::array<uint32_t, 4> spelled_out_philox(std::array<uint32_t, 4> c, uint32_t k0, uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    const uint64_t a = uint64_t{0xD2511F53u} * c[0], b = uint64_t{0xCD9E8D57u} * c[2];
    c = {uint32_t(b >> 32) ^ c[1] ^ k0, uint32_t(b), uint32_t(a >> 32) ^ c[3] ^ k1, uint32_t(a)};
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return c;
}

double spelled_out_uniform(uint64_t seed, int64_t step, int64_t index) {
  const auto i = uint64_t(index), s = uint64_t(step);
  const auto out = spelled_out_philox({uint32_t(i), uint32_t(i >> 32), uint32_t(s), uint32_t(s >> 32)},
                                      uint32_t(seed), uint32_t(seed >> 32));
  return std::ldexp(double((uint64_t(out[0]) << 21) | (out[1] >> 11)), -53);
}

at::Tensor flat_index(int64_t n) { return at::arange(n, at::kLong); }

TEST(CounterUniform, MatchesTheDocumentedPhilox) {
  // Random123's published known answers pin the generator itself.
  using Words = std::array<uint32_t, 4>;
  EXPECT_EQ(spelled_out_philox({0, 0, 0, 0}, 0, 0),
            (Words{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(spelled_out_philox({~0u, ~0u, ~0u, ~0u}, ~0u, ~0u),
            (Words{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(spelled_out_philox({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, 0xa4093822u,
                               0x299f31d0u),
            (Words{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
  auto index = at::tensor({int64_t{0}, int64_t{1}, int64_t{2}, int64_t{1} << 40, int64_t{-1},
                           std::numeric_limits<int64_t>::max()});
  for (uint64_t seed : {uint64_t{0}, uint64_t{42}, ~uint64_t{0}}) {
    for (int64_t step : {int64_t{0}, int64_t{7}, int64_t{-3}}) {
      auto u = counter_uniform(index, seed, step);
      ASSERT_EQ(u.scalar_type(), at::kDouble);
      for (int64_t i = 0; i < index.numel(); ++i) {
        EXPECT_EQ(u[i].item<double>(), spelled_out_uniform(seed, step, index[i].item<int64_t>()))
            << "seed " << seed << " step " << step << " index " << index[i].item<int64_t>();
      }
    }
  }
}

TEST(CounterUniform, InUnitIntervalAndRoughlyUniform) {
  const int64_t n = 100000;
  auto u = counter_uniform(flat_index(n), 1234, 5);
  EXPECT_EQ(u.sizes(), at::IntArrayRef({n}));
  EXPECT_GE(u.min().item<double>(), 0.0);
  EXPECT_LT(u.max().item<double>(), 1.0);
  EXPECT_NEAR(u.mean().item<double>(), 0.5, 0.01);
  EXPECT_NEAR(u.var().item<double>(), 1.0 / 12, 0.005);
  // Ten equal bins each hold about a tenth (sd about 0.001).
  auto counts = at::histc(u, 10, 0, 1) / double(n);
  EXPECT_LT((counts - 0.1).abs().max().item<double>(), 0.006) << counts;
  // Neighbouring tokens are not correlated.
  auto a = u.slice(0, 0, n - 1) - 0.5, b = u.slice(0, 1) - 0.5;
  EXPECT_LT(std::abs((a * b).mean().item<double>() / (1.0 / 12)), 0.02);
}

TEST(CounterUniform, KeepsTheShapeOfTheIndex) {
  auto index = at::arange(12, at::kLong).view({3, 4});
  auto u = counter_uniform(index, 1, 2);
  EXPECT_EQ(u.sizes(), index.sizes());
  EXPECT_TRUE(at::equal(u.flatten(), counter_uniform(index.flatten(), 1, 2)));
  // Non-contiguous index tensors read the right elements.
  EXPECT_TRUE(at::equal(counter_uniform(index.t(), 1, 2), u.t()));
  testing::expect_error([] { counter_uniform(at::zeros({3}, at::kInt), 1, 2); },
                        {"counter_uniform", "[3]", "Int"});
}

TEST(TrustMask, SameKeySameMaskOtherSeedOrStepOtherMask) {
  const int64_t n = 4096;
  auto log_ratio = at::full({n}, std::log(0.5));
  auto index = flat_index(n);
  auto mask = trust_mask(log_ratio, index, 7, 3);
  ASSERT_EQ(mask.scalar_type(), at::kBool);
  EXPECT_TRUE(at::equal(mask, trust_mask(log_ratio, index, 7, 3)));
  auto differ = [&](const at::Tensor& other) { return (other != mask).sum().item<int64_t>(); };
  // Independent masks disagree on about half of the tokens.
  for (const auto& other : {trust_mask(log_ratio, index, 8, 3), trust_mask(log_ratio, index, 7, 4),
                            trust_mask(log_ratio, index, 3, 7), trust_mask(log_ratio, index + n, 7, 3)}) {
    EXPECT_GT(differ(other), n / 3);
  }
}

// Micro-batches and ranks see slices of the step's tokens; with a global index
// the mask cannot depend on where the step was cut.
TEST(TrustMask, SplittingTheBatchAnywhereGivesTheSameMask) {
  const int64_t B = 5, T = 11;
  auto log_ratio = at::linspace(-3, 0.5, B * T).view({B, T});
  auto index = (at::arange(B, at::kLong).unsqueeze(1) * T + at::arange(T, at::kLong)).contiguous();
  auto whole = trust_mask(log_ratio, index, 99, 12);
  for (int64_t cut = 0; cut <= B; ++cut) {
    auto parts = at::cat({trust_mask(log_ratio.slice(0, 0, cut), index.slice(0, 0, cut), 99, 12),
                          trust_mask(log_ratio.slice(0, cut), index.slice(0, cut), 99, 12)});
    EXPECT_TRUE(at::equal(parts, whole)) << "rows cut at " << cut;
  }
  auto flat_ratio = log_ratio.flatten(), flat = index.flatten(), flat_whole = whole.flatten();
  for (int64_t cut = 0; cut <= B * T; ++cut) {
    auto parts = at::cat({trust_mask(flat_ratio.slice(0, 0, cut), flat.slice(0, 0, cut), 99, 12),
                          trust_mask(flat_ratio.slice(0, cut), flat.slice(0, cut), 99, 12)});
    EXPECT_TRUE(at::equal(parts, flat_whole)) << "tokens cut at " << cut;
  }
}

TEST(TrustMask, FrequencyIsMinOfRatioAndOne) {
  const int64_t n = 100000;
  auto index = flat_index(n);
  for (double p : {0.3, 0.05, 0.9}) {
    for (auto dtype : {at::kFloat, at::kBFloat16, at::kDouble}) {
      auto log_ratio = at::full({n}, std::log(p), at::kDouble).to(dtype);
      const double expected = std::exp(log_ratio[0].item<double>());  // p as the dtype holds it
      const double freq = trust_mask(log_ratio, index, 2024, 1).to(at::kDouble).mean().item<double>();
      EXPECT_NEAR(freq, expected, 0.02) << "p " << p << " " << dtype;
      EXPECT_NEAR(freq, expected, 5 * std::sqrt(expected * (1 - expected) / n)) << "p " << p << " " << dtype;
    }
  }
}

TEST(TrustMask, NonNegativeLogRatioAlwaysTrusts) {
  const int64_t n = 100000;
  auto log_ratio = at::cat({at::zeros({n / 2}), at::rand({n / 2}) * 50,
                            at::full({1}, std::numeric_limits<float>::infinity())});
  auto mask = trust_mask(log_ratio, flat_index(log_ratio.numel()), 5, 0);
  EXPECT_TRUE(mask.all().item<bool>());
}

TEST(TrustMask, NegativeInfinityAndNanNeverTrust) {
  const int64_t n = 10000;
  auto index = flat_index(n);
  EXPECT_FALSE(trust_mask(at::full({n}, -std::numeric_limits<float>::infinity()), index, 5, 0).any().item<bool>());
  EXPECT_FALSE(trust_mask(at::full({n}, std::nan("")), index, 5, 0).any().item<bool>());
}

TEST(TrustMask, MaskIsUBelowTheTrustProbability) {
  auto index = flat_index(1000);
  auto log_ratio = at::rand({1000}, at::kDouble) * 4 - 3;
  auto u = counter_uniform(index, 11, 4);
  auto expected = u < at::minimum(log_ratio.exp(), at::ones_like(log_ratio));
  EXPECT_TRUE(at::equal(trust_mask(log_ratio, index, 11, 4), expected));
}

TEST(TrustMask, RejectsBadArguments) {
  testing::expect_error([] { trust_mask(at::zeros({2, 3}), at::zeros({2, 4}, at::kLong), 1, 1); },
                        {"trust_mask", "[2, 3]", "[2, 4]"});
  testing::expect_error([] { trust_mask(at::zeros({2, 3}), at::zeros({2, 3}, at::kInt), 1, 1); },
                        {"trust_mask", "[2, 3]", "Int"});
  testing::expect_error([] { trust_mask(at::zeros({2, 3}, at::kLong), at::zeros({2, 3}, at::kLong), 1, 1); },
                        {"trust_mask", "Long"});
}

}  // namespace
}  // namespace opd::ops
