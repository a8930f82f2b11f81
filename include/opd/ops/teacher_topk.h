// The teacher's top-k tokens, their log-probs and its full-vocab entropy, in fp32.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace opd::ops {

// What the scoring pass keeps of the teacher's logits (DESIGN §3).
struct TeacherTopk {
  at::Tensor ids;      // [..., K] int64, descending by probability (ties in any order)
  at::Tensor logp;     // [..., K] float32, log-probs under the FULL softmax (not renormalised)
  at::Tensor entropy;  // [...] float32, entropy of the full softmax, in nats
};

// logits [..., V] (any float dtype) -> the k most probable tokens of each row,
// their log-probs and the row's entropy, fused: one pass over a row for the
// softmax statistics and one selection pass (a bounded heap on the CPU, a
// radix select on CUDA); memory O(N k). Never differentiable (teacher side).
// Throws when logits have no vocab dim or k is outside [1, V].
TeacherTopk teacher_topk(const at::Tensor& logits, int64_t k);

}  // namespace opd::ops
