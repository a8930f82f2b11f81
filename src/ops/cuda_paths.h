// Private to src/ops: the CUDA halves of the ops. Each takes checked,
// allocated tensors on one CUDA device, launches one kernel of kernels/ on the
// current stream and throws on a launch error. Built into the library with
// OPD_WITH_CUDA (src/ops/cuda/*.cpp); without it a CUDA tensor cannot exist
// (the LibTorch has no CUDA), and each function only reports that.
#pragma once

#include "logits_rows.h"

#include <ATen/ATen.h>

#include <cstdint>

namespace opd::ops::cuda {

#if OPD_WITH_CUDA
#define OPD_CUDA_PATH(signature) signature;
#else
#define OPD_CUDA_PATH(signature)                                                         \
  [[noreturn]] inline signature {                                                        \
    TORCH_CHECK(false, "opd was built without CUDA (OPD_CUDA=OFF or a CPU-only LibTorch)"); \
  }
#endif

// ids [rows, K] int64; logp [rows, K], max / log_sum / entropy [rows] float
// (entropy may be undefined).
OPD_CUDA_PATH(void row_logprobs_forward(const LogitsRows& x, const at::Tensor& ids,
                                        const at::Tensor& logp, const at::Tensor& max,
                                        const at::Tensor& log_sum, const at::Tensor& entropy))
// grad_logp [rows, K] float; grad_logits contiguous [rows, V] of x's dtype.
OPD_CUDA_PATH(void row_logprobs_backward(const LogitsRows& x, const at::Tensor& ids,
                                         const at::Tensor& max, const at::Tensor& log_sum,
                                         const at::Tensor& grad_logp,
                                         const at::Tensor& grad_logits))
// stats [rows, 5] float: student (max, log_sum), teacher (max, log_sum), kl.
OPD_CUDA_PATH(void full_vocab_kl_forward(const LogitsRows& student, const LogitsRows& teacher,
                                         bool forward, const at::Tensor& stats))
// grad_kl [rows] float; grad_student contiguous [rows, V] of the student's dtype.
OPD_CUDA_PATH(void full_vocab_kl_backward(const LogitsRows& student, const LogitsRows& teacher,
                                          bool forward, const at::Tensor& stats,
                                          const at::Tensor& grad_kl,
                                          const at::Tensor& grad_student))
// ids [rows, k] int64, logp [rows, k] and entropy [rows] float.
OPD_CUDA_PATH(void teacher_topk(const LogitsRows& x, int64_t k, const at::Tensor& ids,
                                const at::Tensor& logp, const at::Tensor& entropy))
// token_index contiguous int64, u float64 of its size.
OPD_CUDA_PATH(void counter_uniform(const at::Tensor& token_index, uint64_t seed, int64_t step,
                                   const at::Tensor& u))
// log_ratio contiguous float, token_index contiguous int64, mask bool, one size.
OPD_CUDA_PATH(void trust_mask(const at::Tensor& log_ratio, const at::Tensor& token_index,
                              uint64_t seed, int64_t step, const at::Tensor& mask))

// temperature > 0; uniforms contiguous float64 [rows]; tokens int64 and logprobs float [rows].
OPD_CUDA_PATH(void sample_tokens(const LogitsRows& x, double temperature, int64_t top_k, double top_p,
                                 double min_p, const at::Tensor& uniforms, const at::Tensor& tokens,
                                 const at::Tensor& logprobs))

#undef OPD_CUDA_PATH

}  // namespace opd::ops::cuda
