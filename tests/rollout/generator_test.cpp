#include "opd/model/tiny_model.h"
#include "opd/rollout/generator.h"
#include "opd/rollout/scoring.h"
#include "opd/rollout/sequence_packing.h"
#include "support/test_support.h"
#include "support/tiny_lm.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>

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
  cfg.seed = 0;
  auto cached = generate(model, kPrompts, cfg);
  cfg.use_cache = false;
  auto recomputed = generate(model, kPrompts, cfg);
  EXPECT_TRUE(at::equal(cached.tokens, recomputed.tokens));
  EXPECT_TRUE(at::equal(cached.response_lengths, recomputed.response_lengths));
}

TEST(Generator, SameSeedSameSamplesDifferentSeedDifferent) {
  auto model = tiny(2);
  GenerationConfig cfg;
  cfg.max_new_tokens = 10;
  auto run = [&](uint64_t seed) {
    cfg.seed = seed;
    return generate(model, kPrompts, cfg).tokens;
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
  cfg.seed = 1;
  auto batch = generate(model, kPrompts, cfg);
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t L = static_cast<int64_t>(kPrompts[b].size());
    const int64_t R = batch.response_lengths[b].item<int64_t>();
    EXPECT_EQ(batch.prompt_lengths[b].item<int64_t>(), L);
    EXPECT_GE(R, 1);
    EXPECT_LE(R, 6);
    for (int64_t t = 0; t < batch.seq_len(); ++t) {
      const bool prompt = t < L, response = t >= L && t < L + R;
      if (prompt) {
        EXPECT_EQ(batch.tokens[b][t].item<int64_t>(), kPrompts[b][t]);
      }
      EXPECT_EQ(batch.attention_mask[b][t].item<int64_t>(), prompt || response ? 1 : 0);
      EXPECT_EQ(batch.loss_mask[b][t].item<float>(), response ? 1.f : 0.f);
      EXPECT_EQ(batch.source[b][t].item<int8_t>(), response ? 2 : 0);
      if (prompt || response) {
        EXPECT_EQ(batch.position_ids[b][t].item<int64_t>(), t);
      }
    }
    // A row that stopped early ends exactly at its stop token.
    if (R < 6) {
      EXPECT_EQ(batch.tokens[b][L + R - 1].item<int64_t>(), 3);
    }
    for (int64_t t = L; t < L + R - 1; ++t) EXPECT_NE(batch.tokens[b][t].item<int64_t>(), 3);
  }
}

TEST(Generator, StopTokenEndsEachRowExactlyAtItsFirstOccurrence) {
  auto model = tiny(4);
  GenerationConfig cfg;
  cfg.sampling.temperature = 0;
  cfg.max_new_tokens = 10;
  cfg.seed = 0;
  auto free_run = generate(model, kPrompts, cfg);
  // Stop on the token row 0 greedily writes third; greedy decoding is the same
  // up to each row's first occurrence of it, and must end right there.
  const int64_t L0 = static_cast<int64_t>(kPrompts[0].size());
  const int64_t stop = free_run.tokens[0][L0 + 2].item<int64_t>();
  cfg.stop_token_ids = {stop};
  auto stopped = generate(model, kPrompts, cfg);
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
  cfg.seed = 2;
  auto batch = generate(model, kPrompts, cfg);
  auto scored = score_token_logprobs(model, batch, /*micro_batch=*/2);
  at::NoGradGuard no_grad;
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

namespace opd::rollout {
namespace {

// A multi-token stop sequence ends a row right after it, like a stop token.
TEST(Generator, StopSequencesEndRowsExactly) {
  auto model = tiny(6);
  GenerationConfig cfg;
  cfg.sampling.temperature = 0;
  cfg.max_new_tokens = 12;
  auto free_run = generate(model, kPrompts, cfg);
  const int64_t L0 = static_cast<int64_t>(kPrompts[0].size());
  // Row 0's greedy tokens 2 and 3 as a sequence.
  const std::vector<int64_t> seq = {free_run.tokens[0][L0 + 2].item<int64_t>(), free_run.tokens[0][L0 + 3].item<int64_t>()};
  cfg.stop_sequences = {seq};
  auto stopped = generate(model, kPrompts, cfg);
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t L = static_cast<int64_t>(kPrompts[b].size());
    int64_t expected = 12;
    for (int64_t i = 1; i < 12; ++i) {
      if (free_run.tokens[b][L + i - 1].item<int64_t>() == seq[0] && free_run.tokens[b][L + i].item<int64_t>() == seq[1]) {
        expected = i + 1;
        break;
      }
    }
    EXPECT_EQ(stopped.response_lengths[b].item<int64_t>(), expected) << "row " << b;
  }
  EXPECT_LE(stopped.response_lengths[0].item<int64_t>(), 4);

  // "stop" vs "length": a response ended on its own unless it was cut at its cap.
  const auto ids = response_ids(stopped);
  EXPECT_TRUE(ended_on_its_own(ids[0], 12, cfg));
  EXPECT_TRUE(ended_on_its_own(ids[0], static_cast<int64_t>(ids[0].size()), cfg)) << "the stop sequence ends it";
  EXPECT_FALSE(ended_on_its_own({seq[1], seq[0]}, 2, cfg)) << "cut at the cap, no stop at the end";
  cfg.stop_token_ids = {seq[0]};
  EXPECT_TRUE(ended_on_its_own({seq[1], seq[0]}, 2, cfg)) << "a stop token at the cap";
  EXPECT_FALSE(ended_on_its_own({}, 0, cfg));
}

// Per-row caps end rows early; a cap of 0 generates nothing for that row.
TEST(Generator, PerRowCaps) {
  auto model = tiny(7);
  GenerationConfig cfg;
  cfg.max_new_tokens = 8;
  cfg.row_max_new_tokens = {3, 0, 8};
  auto batch = generate(model, kPrompts, cfg);
  EXPECT_EQ(batch.response_lengths[0].item<int64_t>(), 3);
  EXPECT_EQ(batch.response_lengths[1].item<int64_t>(), 0);
  EXPECT_EQ(batch.response_lengths[2].item<int64_t>(), 8);
  cfg.row_max_new_tokens = {3, 9, 1};
  opd::testing::expect_error([&] { generate(model, kPrompts, cfg); }, {"row 1 cap 9"});
}

// A row's tokens depend on its identity (first_row + index), not on the other
// rows of the batch, nor on when finished rows leave it.
TEST(Generator, RowsDrawTheSameAloneOrInABatch) {
  auto model = tiny(8, 0.3);
  GenerationConfig cfg;
  cfg.max_new_tokens = 10;
  cfg.stop_token_ids = {3, 4, 5, 6};  // rows finish at different steps, so the batch shrinks
  cfg.seed = 77;
  auto together = generate(model, kPrompts, cfg);
  for (int64_t b = 0; b < 3; ++b) {
    auto one = cfg;
    one.first_row = b;
    auto alone = generate(model, {kPrompts[b]}, one);
    const int64_t n = alone.seq_len();
    EXPECT_TRUE(at::equal(alone.tokens[0], together.tokens[b].slice(0, 0, n))) << "row " << b;
    EXPECT_EQ(alone.response_lengths[0].item<int64_t>(), together.response_lengths[b].item<int64_t>());
  }
  // Rows picked out of the batch in another order, named by row_ids.
  auto picked = cfg;
  picked.row_ids = {2, 0};
  const auto pair = generate(model, {kPrompts[2], kPrompts[0]}, picked);
  EXPECT_EQ(response_ids(pair)[0], response_ids(together)[2]);
  EXPECT_EQ(response_ids(pair)[1], response_ids(together)[0]);
  picked.row_ids = {2};
  opd::testing::expect_error([&] { generate(model, {kPrompts[2], kPrompts[0]}, picked); }, {"1 row ids for 2 prompts"});
  // Without the cache (recomputing each step) the draws are the same too.
  cfg.use_cache = false;
  EXPECT_TRUE(at::equal(generate(model, kPrompts, cfg).tokens, together.tokens));
}

// The sampler's log-prob of each token is that of the filtered distribution
// of the model's logits at that position.
// A vocabulary padded past its tokenizer: with vocab_limit, no id at or past
// it is drawn, however likely the model makes them (without, nearly all are).
TEST(Generator, VocabLimitKeepsDrawsBelowIt) {
  model::TinyModelSpec s;
  s.vocab_size = 50;
  s.tie_word_embeddings = false;
  s.init_std = 0.5;
  s.seed = 4;
  auto model = model::make_tiny_model(s);
  opd::testing::favour_ids_from(model, 40);
  GenerationConfig cfg;
  cfg.max_new_tokens = 16;
  cfg.seed = 3;
  auto padded_draws = [&] {  // of the 3 x 16 drawn ids, those at or past 40
    int64_t n = 0;
    for (const auto& response : response_ids(generate(model, kPrompts, cfg))) {
      n += std::count_if(response.begin(), response.end(), [](int64_t id) { return id >= 40; });
    }
    return n;
  };
  EXPECT_GT(padded_draws(), 40) << "the control: the padded ids are the likely ones";
  cfg.vocab_limit = 40;
  EXPECT_EQ(padded_draws(), 0);
  cfg.sampling.temperature = 0;
  EXPECT_EQ(padded_draws(), 0) << "greedy too";
  cfg.vocab_limit = -1;
  opd::testing::expect_error([&] { generate(model, kPrompts, cfg); }, {"vocab_limit must be >= 0"});
}

TEST(Generator, SamplerLogprobsAreThoseOfTheDistributionDrawnFrom) {
  auto model = tiny(9, 0.3);
  GenerationConfig cfg;
  cfg.max_new_tokens = 6;
  cfg.sampling = {0.8, 10, 0.9, 0.0};
  cfg.seed = 5;
  auto batch = generate(model, kPrompts, cfg);
  at::NoGradGuard no_grad;
  auto logits = model->forward(batch.tokens, batch.position_ids, batch.attention_mask);
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t L = batch.prompt_lengths[b].item<int64_t>(), R = batch.response_lengths[b].item<int64_t>();
    for (int64_t t = L; t < L + R; ++t) {
      auto dist = ops::sampling_distribution(logits[b][t - 1].unsqueeze(0), cfg.sampling)[0];
      const double p = dist[batch.tokens[b][t].item<int64_t>()].item<double>();
      EXPECT_NEAR(batch.sampler_logprobs[b][t].item<double>(), std::log(p), 1e-4) << "row " << b << " t " << t;
    }
    EXPECT_EQ(batch.sampler_logprobs[b].slice(0, 0, L).abs().sum().item<double>(), 0.0);
  }
}

}  // namespace
}  // namespace opd::rollout
