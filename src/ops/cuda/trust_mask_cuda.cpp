// CUDA half of ops::counter_uniform and ops::trust_mask: at::Tensor ->
// kernels/trust_mask.cuh.
#include "../cuda_paths.h"
#include "cuda_check.h"
#include "trust_mask.cuh"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

namespace opd::ops::cuda {

void counter_uniform(const at::Tensor& token_index, uint64_t seed, int64_t step,
                     const at::Tensor& u) {
  const c10::cuda::CUDAGuard guard(token_index.device());
  kernels::TrustMaskParams p{token_index.data_ptr<int64_t>(), nullptr, token_index.numel(),
                             seed, step, u.data_ptr<double>(), nullptr};
  OPD_CUDA_CHECK(kernels::trust_mask(p, at::cuda::getCurrentCUDAStream()));
}

void trust_mask(const at::Tensor& log_ratio, const at::Tensor& token_index, uint64_t seed,
                int64_t step, const at::Tensor& mask) {
  const c10::cuda::CUDAGuard guard(token_index.device());
  kernels::TrustMaskParams p{token_index.data_ptr<int64_t>(), log_ratio.data_ptr<float>(),
                             token_index.numel(), seed, step, nullptr, mask.data_ptr<bool>()};
  OPD_CUDA_CHECK(kernels::trust_mask(p, at::cuda::getCurrentCUDAStream()));
}

}  // namespace opd::ops::cuda
