#include "opd/core/token_keys.h"

#include <ATen/ATen.h>

namespace opd {

at::Tensor token_keys(int64_t first_row, int64_t rows, int64_t positions) {
  TORCH_CHECK(first_row >= 0 && rows >= 0 && positions >= 0 && positions < kRowStride,
              "token_keys: expected first_row, rows >= 0 and 0 <= positions < 2^32, got first_row ", first_row,
              ", rows ", rows, ", positions ", positions);
  return (at::arange(first_row, first_row + rows, at::kLong) * kRowStride).unsqueeze(1) +
         at::arange(positions, at::kLong).unsqueeze(0);
}

}  // namespace opd
