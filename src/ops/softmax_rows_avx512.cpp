// The fused CPU row loops compiled for -march=x86-64-v4 with 512-bit vectors: AVX-512 (flags in src/CMakeLists.txt).
#include "softmax_rows_loops.h"

namespace opd::ops::cpu {

const RowKernels& row_kernels_avx512() {
  static const RowKernels kernels = loop_kernels();
  return kernels;
}

}  // namespace opd::ops::cpu
