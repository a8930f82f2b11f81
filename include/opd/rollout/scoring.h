// Scoring passes: a frozen model's view of the tokens of a rollout batch.
#pragma once

#include "opd/core/rollout_batch.h"
#include "opd/model/causal_lm.h"

namespace opd::rollout {

// Log-probs of every token under `model`, aligned (DESIGN §3): [B, T-1]
// fp32 on the CPU, position t scoring tokens[:, t+1]. Runs without gradient
// over `micro_batch` rows at a time, so the [B, T, V] logits never exist at once.
at::Tensor score_token_logprobs(model::CausalLM& model, const RolloutBatch& batch,
                                int64_t micro_batch);

}  // namespace opd::rollout
