// Token selectors: which tokens a term of an objective trains on. Every
// selector returns a float mask (1 = selected) of the aligned [B, T-1] shape,
// already restricted to loss tokens, so masks combine by multiplication.
#pragma once

#include "opd/core/rollout_batch.h"
#include "opd/objectives/objective.h"

#include <ATen/ATen.h>

namespace opd::objectives {

// Loss tokens written by `source` (e.g. kStudent: the on-policy tokens).
at::Tensor tokens_from(const ObjectiveInputs& in, TokenSource source);

// Among `candidates` (a float mask), the ceil(rho * n) tokens with the largest
// `score` (n = number of candidates); ties at the cut are all kept. rho in
// (0, 1]; rho = 1 keeps every candidate. Used for entropy selection: the
// top-rho student-entropy tokens of the micro-batch (GRPO's 80/20 rule).
at::Tensor top_fraction(const at::Tensor& score, const at::Tensor& candidates, double rho);

// TrOPD's trust region over `candidates`: M ~ Bernoulli(min(exp(log_ratio), 1))
// with log_ratio = tau - s, drawn by ops::trust_mask from (in.seed, in.step,
// in.token_index), so the same token gets the same draw however the step is
// split into micro-batches.
at::Tensor trust_region(const at::Tensor& log_ratio, const at::Tensor& candidates,
                        const ObjectiveInputs& in);

}  // namespace opd::objectives
