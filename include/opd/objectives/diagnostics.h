// The diagnostics the papers plot, added to an objective's Metrics the same
// way by every objective: means as (sum, count) over the tokens a term trains
// on, so they combine across micro-batches and ranks.
#pragma once

#include "opd/core/metrics.h"
#include "opd/objectives/objective.h"

#include <ATen/ATen.h>

#include <string>

namespace opd::objectives {

// Adds the mean of `values` over `mask` (float) as `name`, as (sum, count);
// an empty mask adds (0, 0), so the metric exists on every micro-batch.
void add_masked_mean(Metrics& m, const std::string& name, const at::Tensor& values,
                     const at::Tensor& mask);

// Loss-token counts per source: tokens_teacher_prefix, tokens_student,
// tokens_refined (totals).
void add_source_counts(Metrics& m, const ObjectiveInputs& in);

// kl_k1, kl_k3 (estimates of KL(pi_S || pi_T)), student_logprob and
// teacher_logprob over `mask`; s and tau fp32 [B, T-1].
void add_kl_estimates(Metrics& m, const at::Tensor& s, const at::Tensor& tau,
                      const at::Tensor& mask);

// student_entropy: mean entropy of the student's softmax over `mask`, from a
// detached entropy tensor.
void add_student_entropy(Metrics& m, const at::Tensor& entropy, const at::Tensor& mask);

// Fraction of `of` that `selected` keeps, as `name` (e.g. trust_ratio).
void add_fraction(Metrics& m, const std::string& name, const at::Tensor& selected,
                  const at::Tensor& of);

// The fraction of `of` that is valid (in.valid_tokens) as `name`, when the
// run knows which tokens are; nothing otherwise.
void add_valid_fraction(Metrics& m, const std::string& name, const at::Tensor& of, const ObjectiveInputs& in);

}  // namespace opd::objectives
