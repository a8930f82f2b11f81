// The fused CPU row loops compiled for the baseline instruction set (SSE2 on x86-64) (flags in src/CMakeLists.txt).
#include "softmax_rows_loops.h"

namespace opd::ops::cpu {

const RowKernels& row_kernels_baseline() {
  static const RowKernels kernels = loop_kernels();
  return kernels;
}

}  // namespace opd::ops::cpu
