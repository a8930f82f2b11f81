// Full-vocabulary KL between a student and a teacher row (TRD's objective and
// its baselines) in one read of both rows, and the student's gradient in one
// more read and one write. The launchers behind ops::full_vocab_kl.
// CUDA only; no LibTorch.
#pragma once

#include "row_layout.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace opd::kernels {

struct FullVocabKlParams {
  LogitsView student;  // [rows, >= vocab]
  LogitsView teacher;  // [rows, >= vocab], the student's type and vocab
  bool forward;        // KL(p_T || p_S) when true, KL(p_S || p_T) when false
  float* stats;        // [rows, 5] out: student (max, log_sum), teacher (max, log_sum), kl
};
cudaError_t full_vocab_kl_forward(const FullVocabKlParams& p, cudaStream_t stream);

struct FullVocabKlBackwardParams {
  LogitsView student, teacher;
  bool forward;
  const float* stats;    // [rows, 5] from the forward
  const float* grad_kl;  // [rows] upstream gradient
  void* grad_student;    // [rows, vocab] out, contiguous, the student's type
};
cudaError_t full_vocab_kl_backward(const FullVocabKlBackwardParams& p, cudaStream_t stream);

}  // namespace opd::kernels
