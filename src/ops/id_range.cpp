#include "id_range.h"

#include <ATen/ATen.h>

#include <string>

namespace opd::ops {

void check_ids_in_range(const at::Tensor& ids, int64_t V, const char* op) {
  if (ids.numel() == 0) return;
  if (!ids.is_cpu()) {
    const std::string message = std::string(op) + ": token ids must lie in [0, " + std::to_string(V) + ")";
    at::_assert_async(((ids >= 0) & (ids < V)).all(), message);
    return;
  }
  const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
  TORCH_CHECK(lo >= 0 && hi < V, op, ": ids ", ids.sizes(), " must lie in [0, ", V, "), got values in [", lo, ", ",
              hi, "]");
}

}  // namespace opd::ops
