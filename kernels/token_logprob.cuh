// Fused log-probability of one target token per row: logit[target] - logsumexp
// in a single pass over the row (online max/sum), and its backward
// d logits = g * (onehot(target) - softmax) without storing softmax.
// CUDA only: <cuda_runtime.h>, <cuda_bf16.h>; no LibTorch.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace opd::kernels {

enum class LogitsType { kFloat32, kBFloat16 };

struct TokenLogprobParams {
  const void* logits;       // [rows, vocab] student logits, row stride `stride`
  const int64_t* targets;   // [rows] token ids; < 0 marks a padded row (output 0)
  float* logprob;           // [rows] out: log softmax(logits)[target]
  float* logsumexp;         // [rows] out: kept for the backward
  int64_t rows, vocab, stride;
  LogitsType type;
};
cudaError_t token_logprob_forward(const TokenLogprobParams& p, cudaStream_t stream);

struct TokenLogprobBackwardParams {
  const void* logits;       // [rows, vocab]
  const int64_t* targets;   // [rows]
  const float* logsumexp;   // [rows] from the forward
  const float* grad_logprob;  // [rows] upstream gradient
  void* grad_logits;        // [rows, vocab] out, same type as logits, contiguous
  int64_t rows, vocab, stride;
  LogitsType type;
};
cudaError_t token_logprob_backward(const TokenLogprobBackwardParams& p, cudaStream_t stream);

}  // namespace opd::kernels
