// The sampler: filtered tokens are never drawn, frequencies follow the exact
// filtered distribution, the CPU path and the sort-free ATen path (the CUDA
// path) draw the same token from the same uniform, and log-probs are those
// of the distribution drawn from.
#include "opd/ops/aten_composition.h"
#include "opd/ops/sample_tokens.h"
#include "opd/ops/counter_uniform.h"
#include "support/test_support.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>

namespace opd::ops {
namespace {

// Evenly spread uniforms: every region of [0, 1) is hit.
at::Tensor spread(int64_t n) { return (at::arange(n, at::kDouble) + 0.5) / double(n); }

std::vector<SamplingParams> filter_cases() {
  return {
      {1.0, 0, 1.0, 0.0},  {0.7, 0, 1.0, 0.0},  {1.0, 5, 1.0, 0.0},   {1.0, 0, 0.8, 0.0},
      {1.0, 0, 1.0, 0.05}, {1.3, 7, 0.9, 0.02}, {0.5, 0, 0.95, 0.1},  {1.0, 1, 1.0, 0.0},
  };
}

TEST(SampleTokens, NeverDrawsAFilteredTokenAndFollowsTheDistribution) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto row = at::randn({1, 50}, gen) * 2;
  const int64_t n = 20000;
  for (const auto& p : filter_cases()) {
    SCOPED_TRACE(::testing::Message() << "T " << p.temperature << " top_k " << p.top_k << " top_p " << p.top_p
                                      << " min_p " << p.min_p);
    auto dist = sampling_distribution(row, p)[0];
    auto drawn = sample_tokens(row.expand({n, 50}).contiguous(), p, spread(n));
    auto counts = at::bincount(drawn.tokens, {}, 50).to(at::kDouble) / double(n);
    EXPECT_TRUE((counts.masked_select(dist == 0) == 0).all().item<bool>()) << counts;
    // Evenly spread uniforms reproduce the distribution up to 1/n per token.
    EXPECT_LT((counts - dist.to(at::kDouble)).abs().max().item<double>(), 2.0 / n + 1e-6);
    // The log-prob is that of the token under the distribution drawn from.
    auto expected = dist.index_select(0, drawn.tokens).log();
    EXPECT_TRUE(opd::testing::close(drawn.logprobs, expected, 1e-5, 1e-5));
  }
}

// Top-k keeps exactly k (ties aside), top-p the smallest prefix reaching p,
// min-p the tokens within a factor of the best.
TEST(SampleTokens, FiltersKeepTheDocumentedSets) {
  auto logits = at::tensor({2.0f, 1.0f, 0.5f, 0.0f, -1.0f, 3.0f}).view({1, 6});
  auto kept = [&](SamplingParams p) { return (sampling_distribution(logits, p)[0] > 0).nonzero().flatten(); };
  EXPECT_TRUE(at::equal(kept({1.0, 3, 1.0, 0.0}), at::tensor(std::vector<int64_t>{0, 1, 5})));
  // softmax mass: id5 .56, id0 .21, id1 .08 ...: 0.56 < 0.7 <= 0.77.
  EXPECT_TRUE(at::equal(kept({1.0, 0, 0.7, 0.0}), at::tensor(std::vector<int64_t>{0, 5})));
  EXPECT_TRUE(at::equal(kept({1.0, 0, 0.5, 0.0}), at::tensor({int64_t{5}})));
  // p >= 0.3 p_max: exp(x - 3) >= 0.3 -> x >= 1.796: ids 0 and 5.
  EXPECT_TRUE(at::equal(kept({1.0, 0, 1.0, 0.3}), at::tensor(std::vector<int64_t>{0, 5})));
}

// The sort-free composition (the CUDA path) draws what the CPU path draws.
TEST(SampleTokens, CpuPathEqualsTheSortFreeComposition) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  for (auto dtype : {at::kFloat, at::kBFloat16}) {
    auto logits = (at::randn({257, 300}, gen) * 3).to(dtype);
    auto u = at::rand({257}, gen, at::kDouble);
    for (const auto& p : filter_cases()) {
      auto fused = sample_tokens(logits, p, u);
      auto composed = aten_composition::sample_tokens(logits, p, u);
      // The two sum in other orders: a uniform within rounding of a boundary
      // may fall either side, so allow a rare disagreement.
      const int64_t differ = (fused.tokens != composed.tokens).sum().item<int64_t>();
      EXPECT_LE(differ, 2) << "T " << p.temperature << " top_k " << p.top_k << " top_p " << p.top_p;
      auto same = fused.tokens == composed.tokens;
      EXPECT_TRUE(opd::testing::close(fused.logprobs.masked_select(same), composed.logprobs.masked_select(same), 1e-4, 1e-5));
    }
  }
}

TEST(SampleTokens, GreedyAndDeterminism) {
  auto logits = at::tensor({0.1f, 0.9f, 0.3f, 0.9f}).view({1, 4});
  auto greedy = sample_tokens(logits, {0.0, 0, 1.0, 0.0}, at::tensor({0.99}, at::kDouble));
  EXPECT_EQ(greedy.tokens.item<int64_t>(), 1);  // the first of the tied maxima
  EXPECT_EQ(greedy.logprobs.item<float>(), 0.0f);
  // The same uniform, the same token: draws are reproducible from (seed, position, row).
  auto u = counter_uniform(at::arange(64, at::kLong), 7, 3);
  auto wide = at::randn({64, 30});
  EXPECT_TRUE(at::equal(sample_tokens(wide, {}, u).tokens, sample_tokens(wide, {}, u).tokens));
  EXPECT_FALSE(at::equal(sample_tokens(wide, {}, u).tokens,
                         sample_tokens(wide, {}, counter_uniform(at::arange(64, at::kLong), 8, 3)).tokens));
}

TEST(SampleTokens, BadArgumentsAreErrors) {
  auto logits = at::zeros({2, 4});
  auto u = at::full({2}, 0.5, at::kDouble);
  opd::testing::expect_error([&] { sample_tokens(logits, {-1.0, 0, 1.0, 0.0}, u); }, {"temperature", "-1"});
  opd::testing::expect_error([&] { sample_tokens(logits, {1.0, -2, 1.0, 0.0}, u); }, {"top_k", "-2"});
  opd::testing::expect_error([&] { sample_tokens(logits, {1.0, 0, 0.0, 0.0}, u); }, {"top_p", "(0, 1]"});
  opd::testing::expect_error([&] { sample_tokens(logits, {1.0, 0, 1.0, 1.0}, u); }, {"min_p", "[0, 1)"});
  opd::testing::expect_error([&] { sample_tokens(logits, {}, at::full({3}, 0.5, at::kDouble)); }, {"uniforms", "[2]"});
  opd::testing::expect_error([&] { sample_tokens(logits, {}, u.to(at::kFloat)); }, {"float64 uniforms"});
}

}  // namespace
}  // namespace opd::ops
