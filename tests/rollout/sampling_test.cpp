#include "opd/rollout/sampling.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

namespace opd::rollout {
namespace {

TEST(Sampling, TopKAndTopPNeverEmitFilteredTokens) {
  auto logits = at::tensor({2.0f, 1.0f, 0.5f, 0.0f, -1.0f, 3.0f}).view({1, 6});
  SamplingParams p;
  p.top_k = 3;  // keeps ids 5, 0, 1
  auto probs = sampling_probs(logits, p);
  EXPECT_EQ((probs > 0).sum().item<int64_t>(), 3);
  p.top_k = 0;
  p.top_p = 0.7;  // softmax mass: id5 .56, id0 .21 -> stop once >= .7
  probs = sampling_probs(logits, p);
  EXPECT_EQ((probs > 0).sum().item<int64_t>(), 2);
  EXPECT_GT(probs[0][5].item<float>(), 0);
  EXPECT_GT(probs[0][0].item<float>(), 0);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  auto many = sample_tokens(logits.expand({4000, 6}).contiguous(), p, gen);
  EXPECT_TRUE(((many == 5) | (many == 0)).all().item<bool>());
  // And the frequencies follow the renormalised distribution.
  const double share5 = (many == 5).to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(share5, probs[0][5].item<double>(), 0.03);
}

TEST(Sampling, GreedyIsArgmaxAndTemperatureSharpens) {
  auto logits = at::tensor({0.1f, 0.9f, 0.3f}).view({1, 3});
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  SamplingParams greedy;
  greedy.temperature = 0;
  EXPECT_EQ(sample_tokens(logits, greedy, gen).item<int64_t>(), 1);
  SamplingParams hot, cold;
  hot.temperature = 2.0;
  cold.temperature = 0.5;
  EXPECT_GT(sampling_probs(logits, cold)[0][1].item<float>(), sampling_probs(logits, hot)[0][1].item<float>());
}

TEST(Sampling, BadParamsAreErrors) {
  auto logits = at::zeros({1, 4});
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  EXPECT_THROW(sample_tokens(logits, SamplingParams{-1.0, 0, 1.0}, gen), c10::Error);
  EXPECT_THROW(sample_tokens(logits, SamplingParams{1.0, -2, 1.0}, gen), c10::Error);
  EXPECT_THROW(sample_tokens(logits, SamplingParams{1.0, 0, 0.0}, gen), c10::Error);
}

}  // namespace
}  // namespace opd::rollout
