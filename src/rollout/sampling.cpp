#include "opd/rollout/sampling.h"

namespace opd::rollout {
namespace {

void check_params(const SamplingParams& p) {
  TORCH_CHECK(p.temperature >= 0, "sampling: temperature must be >= 0, got ", p.temperature);
  TORCH_CHECK(p.top_k >= 0, "sampling: top_k must be >= 0, got ", p.top_k);
  TORCH_CHECK(p.top_p > 0 && p.top_p <= 1, "sampling: top_p must be in (0, 1], got ", p.top_p);
}

}  // namespace

at::Tensor sampling_probs(const at::Tensor& logits, const SamplingParams& params) {
  check_params(params);
  TORCH_CHECK(logits.dim() == 2, "sampling_probs: expected logits [B, V], got ", logits.sizes());
  TORCH_CHECK(params.temperature > 0, "sampling_probs: greedy decoding has no distribution");
  auto scaled = logits.to(at::kFloat) / params.temperature;
  const int64_t V = scaled.size(1);
  if (params.top_k > 0 && params.top_k < V) {
    auto kth = std::get<0>(scaled.topk(params.top_k, 1)).slice(1, params.top_k - 1);
    scaled = scaled.masked_fill(scaled < kth, -INFINITY);
  }
  auto probs = at::softmax(scaled, 1);
  if (params.top_p < 1.0) {
    auto [sorted, order] = probs.sort(1, /*descending=*/true);
    // Drop a token when the mass strictly before it already reaches top_p;
    // the most likely token always stays.
    auto before = sorted.cumsum(1) - sorted;
    auto drop_sorted = before >= params.top_p;
    auto drop = at::zeros_like(drop_sorted).scatter_(1, order, drop_sorted);
    probs = probs.masked_fill(drop, 0.0);
    probs = probs / probs.sum(1, /*keepdim=*/true);
  }
  return probs;
}

at::Tensor sample_tokens(const at::Tensor& logits, const SamplingParams& params,
                         at::Generator& generator) {
  check_params(params);
  if (params.temperature == 0) return logits.argmax(1);
  return at::multinomial(sampling_probs(logits, params), 1, /*replacement=*/false, generator)
      .squeeze(1);
}

}  // namespace opd::rollout
