#include "opd/rollout/scoring.h"

#include "opd/core/token_alignment.h"
#include "opd/ops/token_logprob.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <vector>

namespace opd::rollout {

at::Tensor score_token_logprobs(model::CausalLM& model, const RolloutBatch& batch,
                                int64_t micro_batch) {
  TORCH_CHECK(micro_batch > 0, "score_token_logprobs: micro_batch must be > 0");
  torch::NoGradGuard no_grad;
  const auto device = model->device();
  std::vector<at::Tensor> parts;
  for (int64_t b = 0; b < batch.batch_size(); b += micro_batch) {
    auto mb = batch.rows(b, std::min(batch.batch_size(), b + micro_batch));
    auto logits = model->forward(mb.tokens.to(device), mb.position_ids.to(device),
                                 mb.attention_mask.to(device));
    parts.push_back(
        ops::token_logprob(aligned_logits(logits), aligned_targets(mb.tokens).to(device)).cpu());
  }
  return at::cat(parts);
}

}  // namespace opd::rollout
