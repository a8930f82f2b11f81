// CUDA half of ops::row_logprobs: at::Tensor -> kernels/row_logprobs.cuh.
#include "../cuda_paths.h"
#include "cuda_check.h"
#include "row_logprobs.cuh"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

namespace opd::ops::cuda {

void row_logprobs_forward(const LogitsRows& x, const at::Tensor& ids, const at::Tensor& logp,
                          const at::Tensor& max, const at::Tensor& log_sum,
                          const at::Tensor& entropy) {
  const c10::cuda::CUDAGuard guard(x.tensor.device());
  kernels::RowLogprobsParams p;
  p.logits = x.view;
  p.ids = ids.data_ptr<int64_t>();
  p.k = ids.size(1);
  p.logp = logp.data_ptr<float>();
  p.max = max.data_ptr<float>();
  p.log_sum = log_sum.data_ptr<float>();
  p.entropy = entropy.defined() ? entropy.data_ptr<float>() : nullptr;
  OPD_CUDA_CHECK(kernels::row_logprobs_forward(p, at::cuda::getCurrentCUDAStream()));
}

void row_logprobs_backward(const LogitsRows& x, const at::Tensor& ids, const at::Tensor& max,
                           const at::Tensor& log_sum, const at::Tensor& grad_logp,
                           const at::Tensor& grad_logits) {
  const c10::cuda::CUDAGuard guard(x.tensor.device());
  kernels::RowLogprobsBackwardParams p;
  p.logits = x.view;
  p.ids = ids.data_ptr<int64_t>();
  p.k = ids.size(1);
  p.max = max.data_ptr<float>();
  p.log_sum = log_sum.data_ptr<float>();
  p.grad_logp = grad_logp.data_ptr<float>();
  p.grad_logits = grad_logits.data_ptr();
  OPD_CUDA_CHECK(kernels::row_logprobs_backward(p, at::cuda::getCurrentCUDAStream()));
}

}  // namespace opd::ops::cuda
