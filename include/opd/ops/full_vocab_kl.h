// Full-vocabulary KL between student and teacher softmaxes (`trd`, `fkl_full`, `rkl_full`).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace opd::ops {

enum class KlDirection {
  kForward,  // KL(p_T || p_S) = sum_v p_T (log p_T - log p_S)
  kReverse,  // KL(p_S || p_T) = sum_v p_S (log p_S - log p_T)
};

// student_logits and teacher_logits [..., V] (any float dtypes) -> per-row KL
// [...] float32 in `direction`, differentiable in student_logits only (the
// teacher is detached). Over the whole vocabulary it is one fused pass over
// both rows (the backward one more, writing the student's gradient in its
// dtype); nothing [N, V] in fp32 is written. support_k > 0 restricts both
// distributions to the teacher's top-support_k tokens and renormalises them
// there (TRD's "top-k support"). A term whose weighting probability is 0
// contributes 0. Throws on mismatched shapes or support_k outside [0, V].
at::Tensor full_vocab_kl(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                         KlDirection direction, int64_t support_k = 0);

}  // namespace opd::ops
