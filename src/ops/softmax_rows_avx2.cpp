// The fused CPU row loops compiled for -march=x86-64-v3: AVX2 and FMA (flags in src/CMakeLists.txt).
#include "softmax_rows_loops.h"

namespace opd::ops::cpu {

const RowKernels& row_kernels_avx2() {
  static const RowKernels kernels = loop_kernels();
  return kernels;
}

}  // namespace opd::ops::cpu
