#include "opd/rollout/scoring.h"

#include "opd/core/token_alignment.h"
#include "opd/model/cpu_packed_linear.h"
#include "opd/ops/teacher_topk.h"
#include "opd/ops/token_logprob.h"

#include <ATen/core/grad_mode.h>

#include <vector>

namespace opd::rollout {
namespace {

at::Tensor cat_defined(const std::vector<at::Tensor>& parts) {
  return parts.empty() ? at::Tensor() : at::cat(parts);
}

}  // namespace

at::Tensor aligned_model_logits(model::CausalLM& model, const RolloutBatch& batch,
                                int64_t vocab_size) {
  const int64_t V = model->config().vocab_size;
  TORCH_CHECK(vocab_size <= V, "aligned_model_logits: cannot cut logits of vocabulary ", V,
              " to ", vocab_size, " entries");
  auto logits = model->project(aligned_model_hidden(model, batch));
  return vocab_size > 0 && vocab_size < V ? logits.slice(2, 0, vocab_size) : logits;
}

at::Tensor aligned_model_hidden(model::CausalLM& model, const RolloutBatch& batch) {
  const auto device = model->device();
  return aligned_logits(model->hidden_states(batch.tokens.to(device), batch.position_ids.to(device),
                                             batch.attention_mask.to(device)));
}

TokenScores score_logits(const at::Tensor& logits, const at::Tensor& targets,
                         const ScoreRequest& request) {
  at::NoGradGuard no_grad;
  TokenScores out;
  if (request.logprobs) out.logprobs = ops::token_logprob(logits, targets.to(logits.device()));
  if (request.topk > 0) {
    // teacher_topk computes the entropy on the same fp32 chunks for free.
    auto top = ops::teacher_topk(logits, request.topk);
    out.topk_ids = top.ids;
    out.topk_logp = top.logp;
    if (request.entropy) out.entropy = top.entropy;
  } else if (request.entropy) {
    out.entropy = ops::softmax_entropy(logits);
  }
  return out;
}

TokenScores score_tokens(model::CausalLM& model, const RolloutBatch& batch,
                         const ScoreRequest& request, int64_t micro_batch) {
  TORCH_CHECK(micro_batch > 0, "score_tokens: micro_batch must be > 0, got ", micro_batch);
  const int64_t V = model->config().vocab_size;
  const int64_t scored_vocab = request.vocab_size > 0 ? request.vocab_size : V;
  TORCH_CHECK(scored_vocab <= V, "score_tokens: asked to score ", scored_vocab,
              " vocabulary entries of a model with ", V);
  TORCH_CHECK(request.topk <= scored_vocab, "score_tokens: top-k ", request.topk,
              " exceeds the scored vocabulary of ", scored_vocab);
  at::NoGradGuard no_grad;
  const model::CpuPackedWeights packed(*model);
  std::vector<at::Tensor> logprobs, topk_ids, topk_logp, entropy;
  for (int64_t b = 0; b < batch.batch_size(); b += micro_batch) {
    auto mb = batch.rows(b, std::min(batch.batch_size(), b + micro_batch));
    auto logits = aligned_model_logits(model, mb, request.vocab_size);
    auto s = score_logits(logits, aligned_targets(mb.tokens), request);
    // Kept on the scoring model's device; the loss moves them to the student's.
    if (s.logprobs.defined()) logprobs.push_back(s.logprobs);
    if (s.topk_ids.defined()) topk_ids.push_back(s.topk_ids);
    if (s.topk_logp.defined()) topk_logp.push_back(s.topk_logp);
    if (s.entropy.defined()) entropy.push_back(s.entropy);
  }
  return TokenScores{cat_defined(logprobs), cat_defined(topk_ids), cat_defined(topk_logp),
                     cat_defined(entropy)};
}

at::Tensor score_token_logprobs(model::CausalLM& model, const RolloutBatch& batch,
                                int64_t micro_batch, int64_t vocab_size) {
  ScoreRequest request;
  request.vocab_size = vocab_size;
  return score_tokens(model, batch, request, micro_batch).logprobs;
}

}  // namespace opd::rollout
