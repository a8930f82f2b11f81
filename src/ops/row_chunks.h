// Private to src/ops: row-chunked evaluation for the plain-ATen ops, so no
// fp32 copy of [N, V] logits spans the whole batch in the forward.
#pragma once

#include <ATen/ATen.h>

#include <algorithm>
#include <vector>

namespace opd::ops {

// fn(begin, end) -> [end - begin, ...] for row ranges of at most chunk_rows,
// concatenated along dim 0. At least one (possibly empty) range is evaluated,
// so an empty batch keeps its trailing shape.
template <typename Fn>
at::Tensor concat_row_chunks(int64_t rows, int64_t chunk_rows, Fn fn) {
  if (rows <= chunk_rows) return fn(int64_t{0}, rows);
  std::vector<at::Tensor> parts;
  for (int64_t b = 0; b < rows; b += chunk_rows) parts.push_back(fn(b, std::min(rows, b + chunk_rows)));
  return at::cat(parts);
}

}  // namespace opd::ops
