#include "opd/model/tiny_model.h"
#include "opd/rollout/generator.h"
#include "opd/rollout/scoring.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

namespace opd::rollout {
namespace {

model::CausalLM tiny(uint64_t seed, double std = 0.5) {
  model::TinyModelSpec s;
  s.vocab_size = 50;
  s.seed = seed;
  s.init_std = std;
  s.eos_token_id = 3;
  return model::make_tiny_model(s);
}

const std::vector<std::vector<int64_t>> kPrompts = {{5, 6, 7, 8, 9}, {10, 11}, {12, 13, 14}};

TEST(Generator, CachedGreedyEqualsRecomputingGreedy) {
  auto model = tiny(1);
  GenerationConfig cfg;
  cfg.sampling.temperature = 0;
  cfg.max_new_tokens = 12;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  auto cached = generate(model, kPrompts, cfg, gen);
  cfg.use_cache = false;
  auto recomputed = generate(model, kPrompts, cfg, gen);
  EXPECT_TRUE(at::equal(cached.tokens, recomputed.tokens));
  EXPECT_TRUE(at::equal(cached.response_lengths, recomputed.response_lengths));
}

TEST(Generator, SameSeedSameSamplesDifferentSeedDifferent) {
  auto model = tiny(2);
  GenerationConfig cfg;
  cfg.max_new_tokens = 10;
  auto run = [&](uint64_t seed) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    return generate(model, kPrompts, cfg, gen).tokens;
  };
  auto a = run(5), b = run(5), c = run(6);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_FALSE(a.sizes() == c.sizes() && at::equal(a, c));
}

TEST(Generator, LayoutSourcesAndMasks) {
  auto model = tiny(3);
  GenerationConfig cfg;
  cfg.max_new_tokens = 6;
  cfg.stop_token_ids = {3};
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  auto batch = generate(model, kPrompts, cfg, gen);
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t L = static_cast<int64_t>(kPrompts[b].size());
    const int64_t R = batch.response_lengths[b].item<int64_t>();
    EXPECT_EQ(batch.prompt_lengths[b].item<int64_t>(), L);
    EXPECT_GE(R, 1);
    EXPECT_LE(R, 6);
    for (int64_t t = 0; t < batch.seq_len(); ++t) {
      const bool prompt = t < L, response = t >= L && t < L + R;
      if (prompt) EXPECT_EQ(batch.tokens[b][t].item<int64_t>(), kPrompts[b][t]);
      EXPECT_EQ(batch.attention_mask[b][t].item<int64_t>(), prompt || response ? 1 : 0);
      EXPECT_EQ(batch.loss_mask[b][t].item<float>(), response ? 1.f : 0.f);
      EXPECT_EQ(batch.source[b][t].item<int8_t>(), response ? 2 : 0);
      if (prompt || response) EXPECT_EQ(batch.position_ids[b][t].item<int64_t>(), t);
    }
    // A row that stopped early ends exactly at its stop token.
    if (R < 6) EXPECT_EQ(batch.tokens[b][L + R - 1].item<int64_t>(), 3);
    for (int64_t t = L; t < L + R - 1; ++t) EXPECT_NE(batch.tokens[b][t].item<int64_t>(), 3);
  }
}

TEST(Generator, StopTokenEndsEachRowExactlyAtItsFirstOccurrence) {
  auto model = tiny(4);
  GenerationConfig cfg;
  cfg.sampling.temperature = 0;
  cfg.max_new_tokens = 10;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  auto free_run = generate(model, kPrompts, cfg, gen);
  // Stop on the token row 0 greedily writes third; greedy decoding is the same
  // up to each row's first occurrence of it, and must end right there.
  const int64_t L0 = static_cast<int64_t>(kPrompts[0].size());
  const int64_t stop = free_run.tokens[0][L0 + 2].item<int64_t>();
  cfg.stop_token_ids = {stop};
  auto stopped = generate(model, kPrompts, cfg, gen);
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t L = static_cast<int64_t>(kPrompts[b].size());
    int64_t expected = 10;
    for (int64_t i = 0; i < 10; ++i) {
      if (free_run.tokens[b][L + i].item<int64_t>() == stop) {
        expected = i + 1;
        break;
      }
    }
    ASSERT_EQ(stopped.response_lengths[b].item<int64_t>(), expected) << "row " << b;
    EXPECT_TRUE(at::equal(stopped.tokens[b].slice(0, 0, L + expected), free_run.tokens[b].slice(0, 0, L + expected)));
    EXPECT_EQ(stopped.loss_mask[b].sum().item<float>(), float(expected));
  }
  EXPECT_LE(stopped.response_lengths[0].item<int64_t>(), 3);
}

TEST(Scoring, TokenLogprobsMatchFullForward) {
  auto model = tiny(5);
  GenerationConfig cfg;
  cfg.max_new_tokens = 5;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(2);
  auto batch = generate(model, kPrompts, cfg, gen);
  auto scored = score_token_logprobs(model, batch, /*micro_batch=*/2);
  torch::NoGradGuard no_grad;
  auto logits = model->forward(batch.tokens, batch.position_ids, batch.attention_mask);
  auto logp = at::log_softmax(logits.to(at::kDouble), -1);
  for (int64_t b = 0; b < 3; ++b) {
    for (int64_t t = 0; t + 1 < batch.seq_len(); ++t) {
      if (batch.attention_mask[b][t + 1].item<int64_t>() == 0) continue;
      EXPECT_NEAR(scored[b][t].item<double>(),
                  logp[b][t][batch.tokens[b][t + 1].item<int64_t>()].item<double>(), 1e-5);
    }
  }
}

}  // namespace
}  // namespace opd::rollout
