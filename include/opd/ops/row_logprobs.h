// Log-probabilities of chosen tokens under each row's softmax, and the row's
// entropy, in one pass over the logits: the fused primitive behind
// token_logprob, gather_logprobs, softmax_entropy and the top-k forward KL.
// A [N, V] fp32 log-softmax is never written (DESIGN §3); the backward reads
// the logits once more and writes the gradient once, in the logits' dtype.
#pragma once

#include <ATen/ATen.h>

namespace opd::ops {

struct RowLogprobs {
  at::Tensor logp;     // [..., K] float32: log softmax(logits)[ids], differentiable in logits
  at::Tensor entropy;  // [...] float32 entropy of the softmax in nats (detached), when asked
};

// logits [..., V] (fp32 and bf16 are read in place, including strided views
// such as aligned logits; other float dtypes through an fp32 copy), ids
// [..., K] int64 in [0, V), K >= 0 (K = 0 gives only the entropy). The
// gradient of logp is d/d x_v = [v = id_k] - p_v, written by a fused pass.
// Throws on mismatched shapes, non-int64 ids or ids outside [0, V).
RowLogprobs row_logprobs(const at::Tensor& logits, const at::Tensor& ids, bool entropy = false);

// The two passes without autograd, for callers that own their buffers (a
// fused training step, the benchmarks).
struct RowLogprobsForward {
  at::Tensor logp;     // [..., K] float32
  at::Tensor max;      // [...] float32, row max
  at::Tensor log_sum;  // [...] float32, log sum_v exp(x_v - max): log p = x - max - log_sum
  at::Tensor entropy;  // [...] float32, or undefined when not asked
};
RowLogprobsForward row_logprobs_forward(const at::Tensor& logits, const at::Tensor& ids,
                                        bool entropy);

// Writes the gradient of sum(grad_logp * logp) with respect to the logits,
// scatter(grad_logp at ids) - (sum_k grad_logp) * softmax, into grad_logits:
// a contiguous tensor of the logits' sizes, dtype and device (e.g. a bf16
// buffer the caller reuses). Throws on a mismatched buffer.
void row_logprobs_backward(const at::Tensor& logits, const at::Tensor& ids,
                           const RowLogprobsForward& forward, const at::Tensor& grad_logp,
                           const at::Tensor& grad_logits);

}  // namespace opd::ops
