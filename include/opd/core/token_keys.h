// Token keys (DESIGN §3): a token's per-token random draws (trust masks) are
// keyed by its place in the step's global batch, so they are the same
// whatever the padding, the micro-batches or the world size.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace opd {

// key = global row * kRowStride + aligned position; positions stay below 2^32.
constexpr int64_t kRowStride = int64_t{1} << 32;

// [rows, positions] int64 keys of global rows first_row .. first_row + rows - 1.
at::Tensor token_keys(int64_t first_row, int64_t rows, int64_t positions);

}  // namespace opd
