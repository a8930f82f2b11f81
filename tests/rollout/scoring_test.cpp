#include "opd/core/token_alignment.h"
#include "opd/model/tiny_model.h"
#include "opd/ops/teacher_topk.h"
#include "opd/ops/token_logprob.h"
#include "opd/rollout/generator.h"
#include "opd/rollout/scoring.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <ATen/core/grad_mode.h>

namespace opd::rollout {
namespace {

using opd::testing::close;
using opd::testing::expect_error;

struct Scored {
  model::CausalLM model{nullptr};
  RolloutBatch batch;
  at::Tensor logits;  // aligned [B, T-1, V], one forward over the whole batch
};

Scored scored_batch() {
  model::TinyModelSpec spec;
  spec.vocab_size = 50;
  spec.seed = 7;
  spec.init_std = 0.2;
  Scored s;
  s.model = model::make_tiny_model(spec);
  GenerationConfig cfg;
  cfg.max_new_tokens = 8;
  cfg.seed = 3;
  s.batch = generate(s.model, {{5, 6, 7, 8, 9}, {10, 11}, {12, 13, 14}}, cfg);
  at::NoGradGuard no_grad;
  s.logits = aligned_logits(
      s.model->forward(s.batch.tokens, s.batch.position_ids, s.batch.attention_mask));
  return s;
}

// One pass gives what a direct full forward gives, micro-batch by micro-batch.
TEST(Scoring, ScoreTokensEqualsADirectFullForward) {
  auto s = scored_batch();
  auto targets = aligned_targets(s.batch.tokens);
  auto expected_logp = ops::token_logprob(s.logits, targets);
  auto expected_top = ops::teacher_topk(s.logits, 5);
  ScoreRequest request;
  request.topk = 5;
  request.entropy = true;
  for (int64_t micro_batch : {1, 2, 3}) {
    SCOPED_TRACE("micro_batch " + std::to_string(micro_batch));
    auto got = score_tokens(s.model, s.batch, request, micro_batch);
    EXPECT_TRUE(close(got.logprobs, expected_logp, 1e-5, 1e-5));
    EXPECT_TRUE(at::equal(got.topk_ids, expected_top.ids));
    EXPECT_TRUE(close(got.topk_logp, expected_top.logp, 1e-5, 1e-5));
    EXPECT_TRUE(close(got.entropy, expected_top.entropy, 1e-5, 1e-5));
    EXPECT_FALSE(got.logprobs.requires_grad());
  }
  EXPECT_TRUE(close(score_token_logprobs(s.model, s.batch, 2), expected_logp, 1e-5, 1e-5));
}

TEST(Scoring, OnlyWhatIsAskedForAndEntropyWithoutTopK) {
  auto s = scored_batch();
  ScoreRequest request;
  request.logprobs = false;
  request.entropy = true;
  auto got = score_tokens(s.model, s.batch, request, 2);
  EXPECT_FALSE(got.logprobs.defined());
  EXPECT_FALSE(got.topk_ids.defined());
  EXPECT_FALSE(got.topk_logp.defined());
  EXPECT_TRUE(close(got.entropy, ops::teacher_topk(s.logits, 1).entropy, 1e-5, 1e-5));
}

// A teacher with a padded vocabulary is scored on the student's first V logits.
TEST(Scoring, VocabularyCutScoresTheFirstEntries) {
  auto s = scored_batch();
  ScoreRequest request;
  request.logprobs = false;
  request.topk = 4;
  request.entropy = true;
  request.vocab_size = 40;
  auto got = score_tokens(s.model, s.batch, request, 2);
  auto expected = ops::teacher_topk(s.logits.slice(2, 0, 40), 4);
  EXPECT_TRUE(at::equal(got.topk_ids, expected.ids));
  EXPECT_TRUE(close(got.topk_logp, expected.logp, 1e-5, 1e-5));
  EXPECT_TRUE(close(got.entropy, expected.entropy, 1e-5, 1e-5));
  {
    at::NoGradGuard no_grad;
    auto cut = aligned_model_logits(s.model, s.batch.rows(0, 2), 40);
    EXPECT_EQ(cut.sizes(), (at::IntArrayRef{2, s.batch.seq_len() - 1, 40}));
  }
}

TEST(Scoring, BadRequestsAreErrors) {
  auto s = scored_batch();
  ScoreRequest request;
  expect_error([&] { score_tokens(s.model, s.batch, request, 0); }, {"micro_batch must be > 0"});
  request.vocab_size = 51;
  expect_error([&] { score_tokens(s.model, s.batch, request, 1); }, {"51", "50"});
  request.vocab_size = 20;
  request.topk = 21;
  expect_error([&] { score_tokens(s.model, s.batch, request, 1); }, {"top-k 21"});
}

}  // namespace
}  // namespace opd::rollout
