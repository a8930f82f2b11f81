// Scoring passes: a frozen model's view of the tokens of a rollout batch.
#pragma once

#include "opd/core/rollout_batch.h"
#include "opd/model/causal_lm.h"

#include <cstdint>

namespace opd::rollout {

// What a scoring pass keeps of a model's logits.
struct ScoreRequest {
  bool logprobs = true;    // log-probs of the batch's tokens
  int64_t topk = 0;        // k > 0: the k most probable ids and their log-probs
  bool entropy = false;    // entropy of the full softmax
  int64_t vocab_size = 0;  // > 0: score only the first vocab_size logits (the student's
                           // vocabulary, when the scoring model's is padded larger)
};

// All aligned (DESIGN §3): position t is the prediction of tokens[:, t+1].
// Tensors not asked for stay undefined.
struct TokenScores {
  at::Tensor logprobs;   // [B, T-1] fp32
  at::Tensor topk_ids;   // [B, T-1, K] int64, descending by probability
  at::Tensor topk_logp;  // [B, T-1, K] fp32, log-probs under the full softmax
  at::Tensor entropy;    // [B, T-1] fp32, nats
};

// The aligned logits [B, T-1, V'] of `batch` (one micro-batch) under `model`,
// on the model's device in its dtype, cut to the first `vocab_size` entries
// when vocab_size > 0. Throws when vocab_size exceeds the model's vocabulary.
// Differentiable unless called under a no-grad guard.
at::Tensor aligned_model_logits(model::CausalLM& model, const RolloutBatch& batch,
                                int64_t vocab_size = 0);

// The aligned final hidden states [B, T-1, H] the same logits are projected
// from (model->head_weight()), for a loss that projects them chunk by chunk.
at::Tensor aligned_model_hidden(model::CausalLM& model, const RolloutBatch& batch);

// What `request` asks of already aligned logits [B, T-1, V]; `targets`
// [B, T-1] int64 are the scored tokens. Runs without gradient; results stay
// on the logits' device.
TokenScores score_logits(const at::Tensor& logits, const at::Tensor& targets,
                         const ScoreRequest& request);

// One pass of `model` over `batch`, `micro_batch` rows at a time without
// gradient, so [B, T, V] logits never exist for the whole batch. Results are
// fp32 / int64 on the model's device. Throws when micro_batch <= 0, or when the request's
// vocab_size or topk does not fit the model's vocabulary.
TokenScores score_tokens(model::CausalLM& model, const RolloutBatch& batch,
                         const ScoreRequest& request, int64_t micro_batch);

// Log-probs of every token under `model`, aligned: [B, T-1] fp32 on its device
// (score_tokens with only log-probs asked for).
at::Tensor score_token_logprobs(model::CausalLM& model, const RolloutBatch& batch,
                                int64_t micro_batch, int64_t vocab_size = 0);

}  // namespace opd::rollout
