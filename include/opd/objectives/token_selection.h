// Token selectors: which tokens a term of an objective trains on. Every
// selector returns a float mask (1 = selected) of the aligned [B, T-1] shape,
// already restricted to loss tokens, so masks combine by multiplication.
#pragma once

#include "opd/core/rollout_batch.h"
#include "opd/objectives/objective.h"

#include <ATen/ATen.h>

#include <functional>
#include <vector>

namespace opd::objectives {

// Loss tokens written by `source` (e.g. kStudent: the on-policy tokens).
at::Tensor tokens_from(const ObjectiveInputs& in, TokenSource source);

// Among `candidates` (a float mask), the ceil(rho * n) tokens with the largest
// `score` (n = number of candidates); ties at the cut are all kept. rho in
// (0, 1]; rho = 1 keeps every candidate. Used for entropy selection: the
// top-rho student-entropy tokens of the micro-batch (GRPO's 80/20 rule).
at::Tensor top_fraction(const at::Tensor& score, const at::Tensor& candidates, double rho);

// Entropy selection: the top-rho student-entropy tokens among `candidates`,
// ranked over the whole step when the trainer gave in.entropy_cuts for rho
// (then in.selection_entropy is compared with the cut), else within this
// micro-batch (top_fraction of `entropy`).
at::Tensor top_entropy_fraction(const ObjectiveInputs& in, const at::Tensor& entropy, const at::Tensor& candidates,
                                double rho);

// For each rho, the cut of top_fraction over the union of every rank's
// `scores` (1-D, finite, >= 0: the step's candidate entropies on this rank):
// the ceil(rho * n)-th largest score of all n. `sum_over_ranks` adds a vector
// over the ranks (identity in one process). Exact: a bisection on the float
// bit patterns, which order as the values do for scores >= 0. A cut of +inf
// selects nothing (no candidates anywhere).
std::vector<float> step_top_fraction_cuts(const at::Tensor& scores, const std::vector<double>& rhos,
                                          const std::function<std::vector<double>(std::vector<double>)>& sum_over_ranks);

// TrOPD's trust region over `candidates`: M ~ Bernoulli(min(exp(log_ratio), 1))
// with log_ratio = tau - s, drawn by ops::trust_mask from (in.seed, in.step,
// in.token_index), so the same token gets the same draw however the step is
// split into micro-batches.
at::Tensor trust_region(const at::Tensor& log_ratio, const at::Tensor& candidates,
                        const ObjectiveInputs& in);

}  // namespace opd::objectives
