// Log-probability of the target token under softmax(logits), in fp32.
#pragma once

#include <ATen/ATen.h>

namespace opd::ops {

// logits [..., V] (any float dtype), targets [...] int64 -> [...] float32:
// log softmax(logits)[target]. Differentiable in logits. Rows are processed
// in chunks of `chunk_rows`, so the fp32 log-softmax never spans the batch.
at::Tensor token_logprob(const at::Tensor& logits, const at::Tensor& targets,
                         int64_t chunk_rows = 1024);

// logits [..., V], ids [..., K] int64 -> [..., K] float32: log softmax(logits)
// at each id (the full softmax, not renormalised). Differentiable in logits;
// chunked like token_logprob.
at::Tensor gather_logprobs(const at::Tensor& logits, const at::Tensor& ids,
                           int64_t chunk_rows = 1024);

// Entropy of softmax(logits) per row in fp32: logits [..., V] -> [...].
at::Tensor softmax_entropy(const at::Tensor& logits, int64_t chunk_rows = 1024);

}  // namespace opd::ops
