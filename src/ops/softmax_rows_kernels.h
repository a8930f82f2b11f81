// Private to src/ops: the fused CPU row loops as a table of function
// pointers, one table per instruction set; softmax_rows_cpu.cpp picks the
// best the CPU supports, once.
#pragma once

#include "softmax_rows_cpu.h"

#include <cstdint>

namespace opd::ops::cpu {

struct RowKernels {
  RowSoftmax (*softmax_f32)(const float*, int64_t, float*);
  RowSoftmax (*softmax_bf16)(const uint16_t*, int64_t, float*);
  void (*scaled_f32)(const float*, int64_t, RowSoftmax, float, float*);
  void (*scaled_bf16)(const uint16_t*, int64_t, RowSoftmax, float, uint16_t*);
  void (*topk_f32)(const float*, int64_t, int64_t, int64_t*);
  void (*topk_bf16)(const uint16_t*, int64_t, int64_t, int64_t*);
  KlRow (*kl_f32)(const float*, const float*, int64_t, bool);
  KlRow (*kl_bf16)(const uint16_t*, const uint16_t*, int64_t, bool);
  void (*kl_grad_f32)(const float*, const float*, int64_t, bool, const KlRow&, float, float*);
  void (*kl_grad_bf16)(const uint16_t*, const uint16_t*, int64_t, bool, const KlRow&, float,
                       uint16_t*);
};

// Built with the baseline flags, -march=x86-64-v3 (AVX2, FMA) and
// -march=x86-64-v4 (AVX-512); the last two exist on x86-64 only.
const RowKernels& row_kernels_baseline();
const RowKernels& row_kernels_avx2();
const RowKernels& row_kernels_avx512();

}  // namespace opd::ops::cpu
