// Divergence estimators and the one loss reduction every objective uses:
// loss = sum_t l_t * weight_t, where weight is ObjectiveInputs::token_weight
// times the term's selection mask (DESIGN §3 normalisation, unchanged by
// selection: unselected tokens contribute 0, they are not renormalised away).
#pragma once

#include <ATen/ATen.h>

namespace opd::objectives {

// sum_t l_t * weight_t in fp32 (a scalar); l may carry gradient.
at::Tensor weighted_loss(const at::Tensor& per_token, const at::Tensor& weight);

// The PG surrogate, sum_t -sg(A_t) * s_t * weight_t: its gradient is the
// policy gradient with advantage A on the sampled tokens.
at::Tensor policy_gradient_loss(const at::Tensor& advantage, const at::Tensor& s,
                                const at::Tensor& weight);

// Per-token KL capped at `clip` (> 0): tokens above the cap keep the value
// `clip` and get no gradient (TRD's per-token clip). clip = 0 is no cap.
at::Tensor clip_per_token(const at::Tensor& kl, double clip);

// Per-token estimates of KL(pi_S || pi_T) on student-sampled tokens from
// log_ratio = s - tau (detached): k1 = log_ratio, k3 = exp(-log_ratio) - 1 + log_ratio.
at::Tensor kl_k1(const at::Tensor& student_minus_teacher);
at::Tensor kl_k3(const at::Tensor& student_minus_teacher);

}  // namespace opd::objectives
