// Scoring responses behind other prompts (the teacher's template, OPSD's
// privileged context): the scores of each response token equal those of a
// forward pass over that row's new prompt + response, at the original
// positions; positions outside the responses are zero.
#include "opd/core/token_alignment.h"
#include "opd/model/tiny_model.h"
#include "opd/ops/token_logprob.h"
#include "opd/rollout/generator.h"
#include "opd/rollout/scoring_context.h"
#include "opd/rollout/sequence_packing.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <ATen/core/grad_mode.h>

namespace opd::rollout {
namespace {

using opd::testing::close;

model::CausalLM tiny_model() {
  model::TinyModelSpec spec;
  spec.vocab_size = 40;
  spec.seed = 11;
  spec.init_std = 0.2;
  return model::make_tiny_model(spec);
}

TEST(ScoringContext, ScoresAreThoseOfTheRowReadBehindItsNewPrompt) {
  auto model = tiny_model();
  GenerationConfig cfg;
  cfg.max_new_tokens = 6;
  cfg.seed = 5;
  const std::vector<std::vector<int64_t>> prompts = {{3, 4, 5}, {6}, {7, 8}};
  const auto batch = generate(model, prompts, cfg);
  // Longer, shorter and equal contexts.
  const std::vector<std::vector<int64_t>> contexts = {{1, 2, 3, 4, 5, 9, 9}, {6}, {8}};
  ScoreRequest request;
  request.topk = 3;
  request.entropy = true;
  const auto got = score_tokens_in_context(model, batch, contexts, request, /*micro_batch=*/2);
  ASSERT_EQ(got.logprobs.sizes(), (at::IntArrayRef{batch.batch_size(), batch.seq_len() - 1}));
  const auto responses = response_ids(batch);
  at::NoGradGuard no_grad;
  for (int64_t b = 0; b < batch.batch_size(); ++b) {
    // The reference: one forward over this row alone, behind its context.
    auto row = pack_sequences({contexts[b]}, {responses[b]}, TokenSource::kStudent);
    auto logits = aligned_logits(model->forward(row.tokens, row.position_ids, row.attention_mask));
    auto logp = ops::token_logprob(logits, aligned_targets(row.tokens))[0];
    const int64_t P = batch.prompt_lengths[b].item<int64_t>(), R = batch.response_lengths[b].item<int64_t>();
    const int64_t C = static_cast<int64_t>(contexts[b].size());
    EXPECT_TRUE(close(got.logprobs[b].slice(0, P - 1, P - 1 + R), logp.slice(0, C - 1, C - 1 + R), 1e-5, 1e-5))
        << "row " << b;
    auto outside = at::cat({got.logprobs[b].slice(0, 0, P - 1), got.logprobs[b].slice(0, P - 1 + R)});
    EXPECT_EQ(outside.abs().sum().item<double>(), 0.0) << "row " << b;
    EXPECT_EQ(got.topk_ids[b].slice(0, P - 1, P - 1 + R).size(0), R);
  }
  // Behind its own prompts a batch scores as usual.
  const auto own = score_tokens_in_context(model, batch, prompts, request, 3);
  const auto plain = score_tokens(model, batch, request, 3);
  auto mask = aligned_targets(batch.loss_mask) > 0;
  EXPECT_TRUE(close(own.logprobs.masked_select(mask), plain.logprobs.masked_select(mask), 1e-5, 1e-5));
  EXPECT_TRUE(at::equal(own.topk_ids.masked_select(mask.unsqueeze(-1)), plain.topk_ids.masked_select(mask.unsqueeze(-1))));
  // And the full logits of a micro-batch move the same way.
  auto logits = aligned_model_logits_in_context(model, batch, contexts);
  EXPECT_TRUE(close(ops::token_logprob(logits, aligned_targets(batch.tokens)).masked_select(mask),
                    got.logprobs.masked_select(mask), 1e-5, 1e-5));
}

}  // namespace
}  // namespace opd::rollout
