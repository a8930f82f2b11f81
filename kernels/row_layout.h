// Logits as rows, for code on raw pointers: a plain header (no CUDA, no
// LibTorch) that the CPU loops of src/ops and the CUDA kernels share. Views
// the trainer hands over, such as the aligned logits [B, T-1, V] of a
// [B, T, V] tensor or a vocabulary cut [..., :V'], are read in place instead
// of being copied into a contiguous [N, V].
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define OPD_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define OPD_HOST_DEVICE inline
#endif

namespace opd::kernels {

enum class LogitsType { kFloat32, kBFloat16 };

// Row r is (r / inner, r % inner) of an [outer, inner, >= vocab] view whose
// last dimension is contiguous.
struct RowLayout {
  int64_t rows = 0;          // outer * inner
  int64_t inner = 1;         // e.g. T-1
  int64_t outer_stride = 0;  // elements between (b, t) and (b + 1, t)
  int64_t inner_stride = 0;  // elements between (b, t) and (b, t + 1)
  int64_t vocab = 0;         // elements of a row that are read (<= the allocated row)

  OPD_HOST_DEVICE int64_t offset(int64_t row) const {
    return (row / inner) * outer_stride + (row % inner) * inner_stride;
  }
};

struct LogitsView {
  const void* data = nullptr;  // element (0, 0, 0)
  RowLayout layout;
  LogitsType type = LogitsType::kFloat32;

  OPD_HOST_DEVICE int64_t element_size() const { return type == LogitsType::kFloat32 ? 4 : 2; }
  OPD_HOST_DEVICE const void* row(int64_t r) const {
    return static_cast<const char*>(data) + layout.offset(r) * element_size();
  }
};

}  // namespace opd::kernels
