#include "opd/core/rollout_batch.h"

namespace opd {

RolloutBatch RolloutBatch::rows(int64_t begin, int64_t end) const {
  TORCH_CHECK(0 <= begin && begin <= end && end <= batch_size(), "RolloutBatch::rows: [", begin,
              ", ", end, ") out of range for batch of ", batch_size());
  auto cut = [&](const at::Tensor& t) { return t.defined() ? t.slice(0, begin, end) : t; };
  return RolloutBatch{cut(tokens),         cut(attention_mask),   cut(position_ids),
                      cut(loss_mask),      cut(source),           cut(prompt_lengths),
                      cut(response_lengths), cut(sampler_logprobs)};
}

RolloutBatch RolloutBatch::select_rows(const at::Tensor& index) const {
  TORCH_CHECK(index.dim() == 1 && index.scalar_type() == at::kLong, "RolloutBatch::select_rows: expected [R] int64 "
              "row indices, got ", index.sizes(), " ", index.scalar_type());
  auto pick = [&](const at::Tensor& t) { return t.defined() ? t.index_select(0, index.to(t.device())) : t; };
  return RolloutBatch{pick(tokens),         pick(attention_mask),   pick(position_ids),
                      pick(loss_mask),      pick(source),           pick(prompt_lengths),
                      pick(response_lengths), pick(sampler_logprobs)};
}

}  // namespace opd
