// Log-probabilities of chosen ids under each row's softmax (plus the row's
// entropy) in one read of the row, and the gradient of sum_k g_k logp_k in
// one more read and one write. The launchers behind ops::row_logprobs.
// CUDA only; no LibTorch.
#pragma once

#include "row_layout.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace opd::kernels {

struct RowLogprobsParams {
  LogitsView logits;     // [rows, >= vocab] fp32 or bf16
  const int64_t* ids;    // [rows, k] token ids in [0, vocab)
  int64_t k;             // ids per row (0: statistics only)
  float* logp;           // [rows, k] out: log softmax(row)[id]
  float* max;            // [rows] out: row max
  float* log_sum;        // [rows] out: log sum exp(x - max)
  float* entropy;        // [rows] out, or nullptr
};
cudaError_t row_logprobs_forward(const RowLogprobsParams& p, cudaStream_t stream);

struct RowLogprobsBackwardParams {
  LogitsView logits;       // as in the forward
  const int64_t* ids;      // [rows, k]
  int64_t k;
  const float* max;        // [rows] from the forward
  const float* log_sum;    // [rows] from the forward
  const float* grad_logp;  // [rows, k] upstream gradient
  void* grad_logits;       // [rows, vocab] out, contiguous, the logits' type:
                           // scatter(grad at ids) - (sum_k grad) * softmax
};
cudaError_t row_logprobs_backward(const RowLogprobsBackwardParams& p, cudaStream_t stream);

}  // namespace opd::kernels
