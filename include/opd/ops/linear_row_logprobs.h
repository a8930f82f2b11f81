// row_logprobs of a projection, logits = hidden @ weight^T (the lm_head),
// without the [N, V] logits ever existing whole: the projection and the
// fused pass run `chunk_rows` rows at a time. At N = 16k tokens and
// V = 151936 the whole bf16 logits and their gradient are 10 GB; one chunk of
// 1024 rows is 0.6 GB.
//
// The backward recomputes each chunk's logits, writes that chunk's gradient
// into one reused buffer and folds it into the hidden states' and the
// weight's gradients before the next chunk. Liger-Kernel's fused linear
// losses write the gradient during the forward instead; that needs the loss's
// gradient with respect to the log-probs at forward time, which an objective
// built from these log-probs does not give, so here each chunk's projection
// runs twice (about a third more lm_head work, for the memory).
#pragma once

#include "opd/ops/row_logprobs.h"

#include <ATen/ATen.h>

#include <cstdint>

namespace opd::ops {

// hidden [..., H] and weight [V, H] of one float dtype and device, ids
// [..., K] int64 in [0, V) -> the RowLogprobs of row_logprobs(hidden @
// weight^T, ids, entropy), differentiable in hidden and weight. The weight's
// gradient is accumulated over chunks in fp32 when the weight is bf16 or fp16.
// chunk_rows >= 1. Throws on mismatched shapes, dtypes or devices.
RowLogprobs linear_row_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& ids,
                                bool entropy, int64_t chunk_rows);

}  // namespace opd::ops
