// The next token of each row: temperature, top-k, top-p and min-p filtering
// and one draw, as an op with a fused CPU path and a fused CUDA kernel that
// never sorts the vocabulary (kernels/sample_tokens.cuh: top-k and top-p by
// radix selects on the values' bits).
// The draw is inverse-CDF on a uniform the caller supplies (Philox, from
// counter_uniform), so a row's token depends on its logits and its own
// uniform only: reproducible across batch splits, ranks and devices.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace opd::ops {

struct SamplingParams {
  double temperature = 1.0;  // 0 = greedy (argmax)
  int64_t top_k = 0;         // keep the k most likely tokens; 0 = off
  double top_p = 1.0;        // then keep the smallest most-likely set with mass >= top_p; 1 = off
  double min_p = 0.0;        // then keep tokens with p >= min_p * p_max; 0 = off
};

// Throws naming the parameter when one is out of range.
void check_sampling_params(const SamplingParams& params);

struct SampledTokens {
  at::Tensor tokens;    // [B] int64
  at::Tensor logprobs;  // [B] float32: log-prob of the token under the filtered, renormalised
                        // distribution it was drawn from (0 for greedy)
};

// logits [B, V] (any float dtype), uniforms [B] float64 in [0, 1). Filters
// in the order of Hugging Face's warpers (temperature, top-k, top-p, min-p);
// ties at a threshold are all kept. The token is the first id (in vocabulary
// order) where the cumulative kept probability exceeds u.
SampledTokens sample_tokens(const at::Tensor& logits, const SamplingParams& params, const at::Tensor& uniforms);

// The filtered, renormalised distribution sample_tokens draws from: [B, V]
// float32, 0 on filtered tokens (for tests and analysis; a full sort).
at::Tensor sampling_distribution(const at::Tensor& logits, const SamplingParams& params);

}  // namespace opd::ops
