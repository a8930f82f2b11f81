#include "opd/train/loss_plan.h"

#include "opd/core/token_alignment.h"
#include "opd/core/token_keys.h"

#include <ATen/ATen.h>

namespace opd::train {

at::Tensor loss_token_weights(const at::Tensor& loss_mask, LossNormalization normalization,
                              const std::function<double(double)>& sum_over_ranks) {
  TORCH_CHECK(loss_mask.dim() == 2,
              "loss_token_weights: expected an aligned loss mask [B, T-1], got ", loss_mask.sizes());
  const auto global = [&](double v) { return sum_over_ranks ? sum_over_ranks(v) : v; };
  const double total = global(loss_mask.sum().item<double>());
  TORCH_CHECK(total > 0, "loss_token_weights: the step holds no loss tokens");
  switch (normalization) {
    case LossNormalization::kToken: return loss_mask / total;
    case LossNormalization::kSequence: {
      auto per_row = loss_mask.sum(1, /*keepdim=*/true);  // [B, 1]
      const double rows = global((per_row > 0).sum().item<double>());
      // Rows without loss tokens keep weight 0 (clamp only avoids 0/0).
      return loss_mask / (per_row.clamp_min(1.0) * rows);
    }
  }
  TORCH_INTERNAL_ASSERT(false, "unknown LossNormalization ", static_cast<int>(normalization));
}

LossPlan plan_loss(const RolloutBatch& batch, LossNormalization normalization, int64_t first_row, int64_t step,
                   const std::function<double(double)>& sum_over_ranks) {
  LossPlan plan;
  plan.loss_mask = aligned_targets(batch.loss_mask);
  const double local = plan.loss_mask.sum().item<double>();
  plan.global_tokens = sum_over_ranks ? sum_over_ranks(local) : local;
  TORCH_CHECK(plan.global_tokens > 0, "step ", step, ": the rollout produced no loss tokens");
  plan.token_weight = loss_token_weights(plan.loss_mask, normalization, sum_over_ranks);
  plan.token_keys = token_keys(first_row, batch.batch_size(), batch.seq_len() - 1);
  return plan;
}

}  // namespace opd::train
