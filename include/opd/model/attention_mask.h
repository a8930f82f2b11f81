// Which keys each query may see, as an additive bias (0 or a large negative).
#pragma once

#include <ATen/ATen.h>

namespace opd::model {

// A query at position p sees valid keys at positions q <= p (and p - q <
// sliding_window when that is > 0). query_positions [B, Tq], key_positions
// [B, Tk], key_valid [B, Tk] bool -> float bias [B, 1, Tq, Tk]. A row with
// no visible key (a pad query) gets a uniform row, never NaN.
at::Tensor attention_bias(const at::Tensor& query_positions, const at::Tensor& key_positions,
                          const at::Tensor& key_valid, int64_t sliding_window);

}  // namespace opd::model
