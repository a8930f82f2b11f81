// Log-probability of the target token under softmax(logits), in fp32.
#pragma once

#include <ATen/ATen.h>

namespace opd::ops {

// logits [..., V] (any float dtype), targets [...] int64 -> [...] float32:
// log softmax(logits)[target]. Differentiable in logits. Rows are processed
// in chunks of `chunk_rows`, so the fp32 log-softmax never spans the batch.
at::Tensor token_logprob(const at::Tensor& logits, const at::Tensor& targets,
                         int64_t chunk_rows = 1024);

// Entropy of softmax(logits) per row in fp32: logits [..., V] -> [...].
at::Tensor softmax_entropy(const at::Tensor& logits, int64_t chunk_rows = 1024);

}  // namespace opd::ops
