#include "opd/model/attention_mask.h"

namespace opd::model {

at::Tensor attention_bias(const at::Tensor& query_positions, const at::Tensor& key_positions,
                          const at::Tensor& key_valid, int64_t sliding_window) {
  auto q = query_positions.unsqueeze(-1);  // [B, Tq, 1]
  auto k = key_positions.unsqueeze(-2);    // [B, 1, Tk]
  auto allowed = (k <= q).logical_and_(key_valid.to(at::kBool).unsqueeze(-2));
  if (sliding_window > 0) allowed.logical_and_(q - k < sliding_window);
  // Finite, so a fully masked row stays finite and NaN never reaches values.
  constexpr float kMasked = -1e30f;
  return at::zeros(allowed.sizes(), query_positions.options().dtype(at::kFloat))
      .masked_fill_(allowed.logical_not(), kMasked)
      .unsqueeze(1);
}

}  // namespace opd::model
