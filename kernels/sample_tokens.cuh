// The next token of each row, fused: the temperature, top-k, top-p and min-p
// thresholds on e_v = exp((x_v - max) / T) and the inverse-CDF draw on the
// caller's uniform, one block per row, without sorting the vocabulary (top-k
// and top-p are radix selects on the values' bits). The launcher behind
// ops::sample_tokens on CUDA for T > 0 (greedy is an argmax). Same rule as the
// CPU path: the kept set is {e >= t}, the token the first id, in vocabulary
// order, where the kept mass summed so far exceeds u times the kept mass.
// CUDA only; no LibTorch.
#pragma once

#include "row_layout.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace opd::kernels {

struct SampleTokensParams {
  LogitsView logits;                 // [rows, >= vocab]
  float temperature = 1.f;           // > 0
  int64_t top_k = 0;                 // 0 = off, else <= vocab
  double top_p = 1.0;                // (0, 1]; 1 = off
  float min_p = 0.f;                 // [0, 1); 0 = off
  const double* uniforms = nullptr;  // [rows], each in [0, 1)
  int64_t* tokens = nullptr;         // [rows] out
  float* logprobs = nullptr;         // [rows] out: log of the token's probability among the kept
};
cudaError_t sample_tokens(const SampleTokensParams& p, cudaStream_t stream);

}  // namespace opd::kernels
