// The teacher's top-k tokens per row with their log-probs under the full
// softmax, and the row's entropy: a radix select over order-preserving keys
// (8 bits per pass: 2 passes for bf16, 4 for fp32) whose first pass also
// accumulates the softmax statistics. The launcher behind ops::teacher_topk.
// CUDA only; no LibTorch.
#pragma once

#include "row_layout.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace opd::kernels {

// Largest k the kernel selects; the op falls back to ATen above it.
constexpr int64_t kTeacherTopkMaxK = 1024;

struct TeacherTopkParams {
  LogitsView logits;  // [rows, >= vocab]
  int64_t k;          // 1 <= k <= min(vocab, kTeacherTopkMaxK)
  int64_t* ids;       // [rows, k] out, descending by value (ties in any order; NaN ranks as -inf)
  float* logp;        // [rows, k] out, log softmax(row)[id]
  float* entropy;     // [rows] out
};
cudaError_t teacher_topk(const TeacherTopkParams& p, cudaStream_t stream);

}  // namespace opd::kernels
