// Log-probabilities of given tokens and entropies of student rows, in fp32,
// each one fused pass over the logits (ops/row_logprobs.h).
#pragma once

#include <ATen/ATen.h>

namespace opd::ops {

// logits [..., V] (any float dtype), targets [...] int64 in [0, V) -> [...]
// float32: log softmax(logits)[target]. Differentiable in logits.
at::Tensor token_logprob(const at::Tensor& logits, const at::Tensor& targets);

// logits [..., V], ids [..., K] int64 -> [..., K] float32: log softmax(logits)
// at each id (the full softmax, not renormalised). Differentiable in logits.
at::Tensor gather_logprobs(const at::Tensor& logits, const at::Tensor& ids);

// Entropy of softmax(logits) per row in fp32: logits [..., V] -> [...]; never
// differentiable (a diagnostic).
at::Tensor softmax_entropy(const at::Tensor& logits);

}  // namespace opd::ops
