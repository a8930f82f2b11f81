// Forward KL from the teacher's top-k tokens to the student (the `fkl` term).
#pragma once

#include <ATen/ATen.h>

namespace opd::ops {

// student_logits [..., V] (any float dtype, differentiable), topk_ids [..., K]
// int64 and topk_logp [..., K] (teacher log-probs under its full softmax,
// treated as constants) -> per-row forward KL [...] float32:
//   renormalize = false: sum_{v in TopK} p_T,v (log p_T,v - log pi_S,v), with
//     p_T = exp(topk_logp) and log pi_S the FULL student log-softmax, so the
//     gradient reaches every logit of the row (one fused pass each way);
//   renormalize = true: both distributions renormalised on the K tokens,
//     q_T = p_T / sum_K p_T, q_S = pi_S / sum_K pi_S, and sum_v q_T (log q_T - log q_S);
//     the gradient reaches only the K logits.
// Tokens with p_T = 0 (topk_logp = -inf) contribute 0. Throws on mismatched
// shapes, non-int64 ids, ids outside [0, V) or K > V.
at::Tensor topk_forward_kl(const at::Tensor& student_logits, const at::Tensor& topk_ids,
                           const at::Tensor& topk_logp, bool renormalize);

// The unrenormalised top-k forward KL from the student's log-probs at the
// teacher's ids, student_logp [..., K] (e.g. from a row_logprobs pass that
// also gathered the sampled token), and the teacher's topk_logp [..., K]:
// sum_K p_T (log p_T - student_logp), terms with p_T = 0 being 0.
at::Tensor forward_kl_on_support(const at::Tensor& student_logp, const at::Tensor& topk_logp);

// topk_logp [..., K] -> [...] float32: sum_K exp(topk_logp), the teacher
// probability mass the top-k covers (a diagnostic; 1 means nothing was cut).
at::Tensor topk_mass(const at::Tensor& topk_logp);

}  // namespace opd::ops
