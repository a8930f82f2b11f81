// Choosing the next token from logits: temperature, top-k, top-p, then a draw.
#pragma once

#include <ATen/ATen.h>
#include <ATen/core/Generator.h>

namespace opd::rollout {

struct SamplingParams {
  double temperature = 1.0;  // 0 = greedy (argmax)
  int64_t top_k = 0;         // keep the k most likely tokens; 0 = off
  double top_p = 1.0;        // keep the smallest set with mass >= top_p; 1 = off
};

// The distribution the sampler draws from: logits [B, V] -> probabilities
// [B, V] fp32, zero on filtered tokens. Throws on invalid params.
at::Tensor sampling_probs(const at::Tensor& logits, const SamplingParams& params);

// One token per row [B] int64, drawn with `generator` (reproducible for a
// fixed seed), or the argmax when temperature == 0.
at::Tensor sample_tokens(const at::Tensor& logits, const SamplingParams& params,
                         at::Generator& generator);

}  // namespace opd::rollout
