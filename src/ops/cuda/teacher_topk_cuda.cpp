// CUDA half of ops::teacher_topk: at::Tensor -> kernels/teacher_topk.cuh, or
// the ATen composition for k above the kernel's limit.
#include "../cuda_paths.h"
#include "cuda_check.h"
#include "opd/ops/aten_composition.h"
#include "teacher_topk.cuh"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

namespace opd::ops::cuda {

void teacher_topk(const LogitsRows& x, int64_t k, const at::Tensor& ids, const at::Tensor& logp,
                  const at::Tensor& entropy) {
  const c10::cuda::CUDAGuard guard(x.tensor.device());
  if (k > kernels::kTeacherTopkMaxK) {
    // Beyond a shared-memory sort: at::topk over the fp32 log-softmax.
    auto rows = x.tensor.reshape({x.rows(), x.vocab()});
    auto top = aten_composition::teacher_topk(rows, k);
    ids.view({x.rows(), k}).copy_(top.ids);
    logp.view({x.rows(), k}).copy_(top.logp);
    entropy.view({x.rows()}).copy_(top.entropy);
    return;
  }
  kernels::TeacherTopkParams p;
  p.logits = x.view;
  p.k = k;
  p.ids = ids.data_ptr<int64_t>();
  p.logp = logp.data_ptr<float>();
  p.entropy = entropy.data_ptr<float>();
  OPD_CUDA_CHECK(kernels::teacher_topk(p, at::cuda::getCurrentCUDAStream()));
}

}  // namespace opd::ops::cuda
