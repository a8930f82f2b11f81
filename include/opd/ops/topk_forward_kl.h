// Forward KL from the teacher's top-k tokens to the student (the `fkl` term).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace opd::ops {

// student_logits [..., V] (any float dtype, differentiable), topk_ids [..., K]
// int64 and topk_logp [..., K] (teacher log-probs under its full softmax,
// treated as constants) -> per-row forward KL [...] float32:
//   renormalize = false: sum_{v in TopK} p_T,v (log p_T,v - log pi_S,v), with
//     p_T = exp(topk_logp) and log pi_S the FULL student log-softmax, so the
//     gradient reaches every logit of the row;
//   renormalize = true: both distributions renormalised on the K tokens,
//     q_T = p_T / sum_K p_T, q_S = pi_S / sum_K pi_S, and sum_v q_T (log q_T - log q_S);
//     the gradient reaches only the K logits.
// Tokens with p_T = 0 (topk_logp = -inf) contribute 0. Rows are processed in
// fp32 chunks of `chunk_rows`. Throws on mismatched shapes, non-int64 ids, ids
// outside [0, V), K > V or chunk_rows <= 0.
at::Tensor topk_forward_kl(const at::Tensor& student_logits, const at::Tensor& topk_ids,
                           const at::Tensor& topk_logp, bool renormalize,
                           int64_t chunk_rows = 1024);

// topk_logp [..., K] -> [...] float32: sum_K exp(topk_logp), the teacher
// probability mass the top-k covers (a diagnostic; 1 means nothing was cut).
at::Tensor topk_mass(const at::Tensor& topk_logp);

}  // namespace opd::ops
