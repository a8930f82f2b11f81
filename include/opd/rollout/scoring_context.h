// Scoring a batch's responses behind other prompts: the teacher reads the
// problem in its own chat template, or (OPSD) with privileged context the
// student never sees. The scores come back at the batch's own aligned
// positions, so objectives never know the contexts differed.
#pragma once

#include "opd/core/rollout_batch.h"
#include "opd/model/causal_lm.h"
#include "opd/rollout/scoring.h"

#include <cstdint>
#include <vector>

namespace opd::rollout {

// Row b of `batch` re-packed as prompts[b] + its response. shift[b] is how
// far its response moved: position p of the original is p + shift[b] here.
struct Recontexted {
  RolloutBatch batch;
  at::Tensor shift;  // [B] int64
};
Recontexted with_prompts(const RolloutBatch& batch, const std::vector<std::vector<int64_t>>& prompts);

// An aligned tensor of the recontexted batch, [B, T'-1, ...], at the
// original's aligned positions [B, T-1, ...]: the predictions of response
// tokens copied over, every other position zero.
at::Tensor to_original_positions(const at::Tensor& aligned, const Recontexted& r,
                                 const RolloutBatch& original);

// score_tokens with each row read behind prompts[b].
TokenScores score_tokens_in_context(model::CausalLM& model, const RolloutBatch& batch,
                                    const std::vector<std::vector<int64_t>>& prompts,
                                    const ScoreRequest& request, int64_t micro_batch);

// aligned_model_logits with each row read behind prompts[b] (one micro-batch).
at::Tensor aligned_model_logits_in_context(model::CausalLM& model, const RolloutBatch& batch,
                                           const std::vector<std::vector<int64_t>>& prompts,
                                           int64_t vocab_size = 0);

}  // namespace opd::rollout
