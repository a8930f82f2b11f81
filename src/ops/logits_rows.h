// Private to src/ops: a [..., V] logits tensor seen as rows by the fused CPU
// loops and the CUDA kernels, without copying views (kernels/row_layout.h).
#pragma once

#include "row_layout.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace opd::ops {

struct LogitsRows {
  at::Tensor tensor;        // what the view reads: the input itself, or a copy
  kernels::LogitsView view;

  int64_t rows() const { return view.layout.rows; }
  int64_t vocab() const { return view.layout.vocab; }
  at::ScalarType dtype() const { return tensor.scalar_type(); }
};

// fp32 and bf16 logits are read in place when their last dimension is
// contiguous and their leading dimensions fold into (outer, inner); other
// float dtypes are read from an fp32 copy, other strides from a contiguous
// one. Throws naming `op` when logits are not floating point or have no
// vocabulary dimension.
LogitsRows logits_rows(const at::Tensor& logits, const char* op);

// Sizes of a tensor without its last dimension.
std::vector<int64_t> leading_sizes(const at::Tensor& t);

// Rows per task for at::parallel_for over rows of `vocab` elements: enough
// work per task that small vocabularies are not dominated by scheduling.
int64_t row_grain(int64_t vocab);

}  // namespace opd::ops
