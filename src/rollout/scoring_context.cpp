#include "opd/rollout/scoring_context.h"

#include "opd/core/token_alignment.h"
#include "opd/rollout/sequence_packing.h"

#include <ATen/core/grad_mode.h>

namespace opd::rollout {

Recontexted with_prompts(const RolloutBatch& batch, const std::vector<std::vector<int64_t>>& prompts) {
  TORCH_CHECK(static_cast<int64_t>(prompts.size()) == batch.batch_size(), "with_prompts: ", prompts.size(),
              " prompts for a batch of ", batch.batch_size());
  // Labels are the original's (source, loss mask); only positions matter here.
  Recontexted r;
  r.batch = pack_sequences(prompts, response_ids(batch), TokenSource::kStudent);
  r.shift = r.batch.prompt_lengths - batch.prompt_lengths;
  return r;
}

at::Tensor to_original_positions(const at::Tensor& aligned, const Recontexted& r, const RolloutBatch& original) {
  const int64_t B = original.batch_size(), positions = original.seq_len() - 1;
  const int64_t available = aligned.size(1);
  auto device = aligned.device();
  auto t = at::arange(positions, at::TensorOptions().dtype(at::kLong).device(device)).unsqueeze(0);  // [1, T-1]
  auto start = (original.prompt_lengths - 1).to(device).unsqueeze(1);                                // [B, 1]
  auto end = start + original.response_lengths.to(device).unsqueeze(1);
  // Aligned position t predicts token t + 1: the response's predictions are
  // t in [prompt_len - 1, prompt_len - 1 + response_len).
  auto inside = (t >= start) & (t < end);
  auto source = (t + r.shift.to(device).unsqueeze(1)).clamp(0, available - 1);
  auto index = source.expand({B, positions});
  for (int64_t d = 2; d < aligned.dim(); ++d) index = index.unsqueeze(-1);
  auto sizes = aligned.sizes().vec();
  sizes[1] = positions;
  auto gathered = aligned.gather(1, index.expand(sizes).contiguous());
  auto mask = inside;
  for (int64_t d = 2; d < aligned.dim(); ++d) mask = mask.unsqueeze(-1);
  return at::where(mask, gathered, at::zeros_like(gathered));
}

TokenScores score_tokens_in_context(model::CausalLM& model, const RolloutBatch& batch,
                                    const std::vector<std::vector<int64_t>>& prompts,
                                    const ScoreRequest& request, int64_t micro_batch) {
  const auto r = with_prompts(batch, prompts);
  const auto s = score_tokens(model, r.batch, request, micro_batch);
  auto back = [&](const at::Tensor& t) { return t.defined() ? to_original_positions(t, r, batch) : t; };
  return TokenScores{back(s.logprobs), back(s.topk_ids), back(s.topk_logp), back(s.entropy)};
}

at::Tensor aligned_model_logits_in_context(model::CausalLM& model, const RolloutBatch& batch,
                                           const std::vector<std::vector<int64_t>>& prompts,
                                           int64_t vocab_size) {
  const auto r = with_prompts(batch, prompts);
  return to_original_positions(aligned_model_logits(model, r.batch, vocab_size), r, batch);
}

}  // namespace opd::rollout
