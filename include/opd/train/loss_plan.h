// A step's loss plan (DESIGN §3), fixed for the whole step before any
// micro-batch runs, so micro-batching changes neither the normalisation nor
// the per-token random draws: which tokens train, each one's weight in the
// global normalisation, and each one's key.
#pragma once

#include "opd/core/rollout_batch.h"
#include "opd/objectives/objective_config.h"

#include <ATen/core/Tensor.h>

#include <functional>

namespace opd::train {

struct LossPlan {
  at::Tensor loss_mask;     // [B, T-1] float, aligned
  at::Tensor token_weight;  // [B, T-1]: an objective's loss is sum_t l_t * token_weight_t
  at::Tensor token_keys;    // [B, T-1] int64 (core/token_keys.h)
  // [B, T-1] float, aligned: 1 where the target keeps its response on a
  // correct solution (valid_solution_tokens.h); undefined when not known.
  at::Tensor valid_tokens;
  double global_tokens = 0; // loss tokens of the step over every rank
};

// Per-token weights of a step, from its aligned loss mask [B, T-1] float:
// kToken gives loss_mask / (loss tokens of the step); kSequence gives each
// row's loss tokens 1 / (n_row * rows with n_row > 0), so every sequence
// counts the same. The counts are of the global batch: each passes through
// sum_over_ranks when given. Throws when the batch holds no loss token.
at::Tensor loss_token_weights(const at::Tensor& loss_mask, LossNormalization normalization,
                              const std::function<double(double)>& sum_over_ranks = nullptr);

// The plan of `batch`, whose first row is global row first_row. Throws naming
// `step` when the step (over every rank) holds no loss token.
LossPlan plan_loss(const RolloutBatch& batch, LossNormalization normalization, int64_t first_row, int64_t step,
                   const std::function<double(double)>& sum_over_ranks = nullptr);

}  // namespace opd::train
