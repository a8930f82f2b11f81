#include "logits_rows.h"

#include <algorithm>

namespace opd::ops {

LogitsRows logits_rows(const at::Tensor& logits, const char* op) {
  TORCH_CHECK(logits.dim() >= 1 && at::isFloatingType(logits.scalar_type()), op,
              ": expected float logits [..., V], got ", logits.sizes(), " ",
              logits.scalar_type());
  auto t = logits;
  if (t.scalar_type() != at::kFloat && t.scalar_type() != at::kBFloat16) t = t.to(at::kFloat);
  if (t.dim() > 3) t = t.reshape({-1, t.size(-2), t.size(-1)});  // a view when the dims fold
  if (t.size(-1) > 1 && t.stride(-1) != 1) t = t.contiguous();

  LogitsRows rows;
  rows.tensor = t;
  auto& v = rows.view;
  v.data = t.data_ptr();
  v.type = t.scalar_type() == at::kBFloat16 ? kernels::LogitsType::kBFloat16
                                            : kernels::LogitsType::kFloat32;
  auto& l = v.layout;
  l.vocab = t.size(-1);
  if (t.dim() == 1) {
    l.rows = 1;
  } else if (t.dim() == 2) {
    l.rows = l.inner = t.size(0);
    l.inner_stride = t.stride(0);
  } else {
    l.inner = t.size(1);
    l.rows = t.size(0) * l.inner;
    l.outer_stride = t.stride(0);
    l.inner_stride = t.stride(1);
  }
  if (l.inner == 0) l.inner = 1;  // an empty batch: no row is ever addressed
  return rows;
}

std::vector<int64_t> leading_sizes(const at::Tensor& t) {
  auto sizes = t.sizes().vec();
  sizes.pop_back();
  return sizes;
}

int64_t row_grain(int64_t vocab) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, vocab));
}

}  // namespace opd::ops
