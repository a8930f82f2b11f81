// CUDA half of ops::sample_tokens: at::Tensor -> kernels/sample_tokens.cuh.
#include "../cuda_paths.h"
#include "cuda_check.h"
#include "sample_tokens.cuh"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

namespace opd::ops::cuda {

void sample_tokens(const LogitsRows& x, double temperature, int64_t top_k, double top_p, double min_p,
                   const at::Tensor& uniforms, const at::Tensor& tokens, const at::Tensor& logprobs) {
  const c10::cuda::CUDAGuard guard(x.tensor.device());
  kernels::SampleTokensParams p;
  p.logits = x.view;
  p.temperature = static_cast<float>(temperature);
  p.top_k = top_k;
  p.top_p = top_p;
  p.min_p = static_cast<float>(min_p);
  p.uniforms = uniforms.data_ptr<double>();
  p.tokens = tokens.data_ptr<int64_t>();
  p.logprobs = logprobs.data_ptr<float>();
  OPD_CUDA_CHECK(kernels::sample_tokens(p, at::cuda::getCurrentCUDAStream()));
}

}  // namespace opd::ops::cuda
