// TrOPD's Bernoulli trust mask and the uniform draws behind it, from the
// counter-based Philox4x32-10 of philox.h: the same bits as the CPU op, no
// generator state, safe under CUDA graph capture. The launchers behind
// ops::counter_uniform and ops::trust_mask. CUDA only; no LibTorch.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace opd::kernels {

struct TrustMaskParams {
  const int64_t* token_index;  // [n] global token index within the step
  const float* log_ratio;      // [n] tau - s (trust_mask only)
  int64_t n;
  uint64_t seed;
  int64_t step;
  double* uniform;             // [n] out (counter_uniform), or nullptr
  bool* mask;                  // [n] out: u < min(exp(log_ratio), 1) (trust_mask), or nullptr
};
cudaError_t trust_mask(const TrustMaskParams& p, cudaStream_t stream);

}  // namespace opd::kernels
