// Logits at position t score token t+1 (DESIGN §3). These helpers are the one
// place that shift happens: everything "aligned" has T-1 positions, and
// aligned position t holds the prediction of tokens[:, t+1].
#pragma once

#include <ATen/ATen.h>

namespace opd {

// logits [B, T, V] -> [B, T-1, V] (a view): drops the last position.
inline at::Tensor aligned_logits(const at::Tensor& logits) {
  TORCH_CHECK(logits.dim() == 3, "aligned_logits: expected [B, T, V], got ", logits.sizes());
  return logits.slice(1, 0, logits.size(1) - 1);
}

// Per-token tensor [B, T, ...] -> [B, T-1, ...] (a view): drops the first token,
// which nothing predicts.
inline at::Tensor aligned_targets(const at::Tensor& per_token) {
  TORCH_CHECK(per_token.dim() >= 2, "aligned_targets: expected [B, T, ...], got ",
              per_token.sizes());
  return per_token.slice(1, 1, per_token.size(1));
}

}  // namespace opd
