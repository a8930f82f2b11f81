// CUDA half of ops::full_vocab_kl: at::Tensor -> kernels/full_vocab_kl.cuh.
#include "../cuda_paths.h"
#include "cuda_check.h"
#include "full_vocab_kl.cuh"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

namespace opd::ops::cuda {

void full_vocab_kl_forward(const LogitsRows& student, const LogitsRows& teacher, bool forward,
                           const at::Tensor& stats) {
  const c10::cuda::CUDAGuard guard(student.tensor.device());
  kernels::FullVocabKlParams p;
  p.student = student.view;
  p.teacher = teacher.view;
  p.forward = forward;
  p.stats = stats.data_ptr<float>();
  OPD_CUDA_CHECK(kernels::full_vocab_kl_forward(p, at::cuda::getCurrentCUDAStream()));
}

void full_vocab_kl_backward(const LogitsRows& student, const LogitsRows& teacher, bool forward,
                            const at::Tensor& stats, const at::Tensor& grad_kl,
                            const at::Tensor& grad_student) {
  const c10::cuda::CUDAGuard guard(student.tensor.device());
  kernels::FullVocabKlBackwardParams p;
  p.student = student.view;
  p.teacher = teacher.view;
  p.forward = forward;
  p.stats = stats.data_ptr<float>();
  p.grad_kl = grad_kl.data_ptr<float>();
  p.grad_student = grad_student.data_ptr();
  OPD_CUDA_CHECK(kernels::full_vocab_kl_backward(p, at::cuda::getCurrentCUDAStream()));
}

}  // namespace opd::ops::cuda
