// Private to src/ops/cuda: the one check every CUDA call of the ops goes
// through, naming the call, file and line.
#pragma once

#include <c10/util/Exception.h>
#include <cuda_runtime.h>

#define OPD_CUDA_CHECK(call)                                                             \
  do {                                                                                   \
    const cudaError_t opd_cuda_error_ = (call);                                          \
    TORCH_CHECK(opd_cuda_error_ == cudaSuccess, #call, " failed at ", __FILE__, ":",     \
                __LINE__, ": ", cudaGetErrorString(opd_cuda_error_));                    \
  } while (0)
