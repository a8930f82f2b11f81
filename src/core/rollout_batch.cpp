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

}  // namespace opd
