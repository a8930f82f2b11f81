#include "trust_mask.cuh"

#include "philox.h"

namespace opd::kernels {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) trust_mask_kernel(TrustMaskParams p) {
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= p.n) return;
  const double u = token_uniform(p.seed, p.step, p.token_index[i]);
  if (p.uniform) p.uniform[i] = u;
  // min(exp(x), 1) = exp(min(x, 0)); NaN never trusts (fmin would drop it).
  if (p.mask) {
    const double x = p.log_ratio[i];
    p.mask[i] = x == x && u < exp(x < 0.0 ? x : 0.0);
  }
}

}  // namespace

cudaError_t trust_mask(const TrustMaskParams& p, cudaStream_t stream) {
  if (p.n == 0) return cudaSuccess;
  const dim3 grid(static_cast<unsigned>((p.n + kThreads - 1) / kThreads));
  trust_mask_kernel<<<grid, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace opd::kernels
