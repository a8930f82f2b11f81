// TrOPD's Bernoulli trust mask, drawn from a counter-based hash (no generator state).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace opd::ops {

// token_index [...] int64 -> [...] float64 u in [0, 1), a pure function of
// (seed, step, token_index): the same token gets the same u however the batch
// is split into micro-batches or ranks, as long as token_index is global to the
// step (e.g. row_in_step * T + t). The bits, for kernels that must match them:
//   mix(z)  = z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27;
//             z *= 0x94D049BB133111EB; z ^= z >> 31   (SplitMix64's finaliser)
//   G       = 0x9E3779B97F4A7C15
//   key     = mix(mix(seed + G) + uint64(step) + G)
//   u       = (mix(key + (uint64(index) + 1) * G) >> 11) * 2^-53
// all arithmetic mod 2^64. Computed on the CPU; the result goes to
// token_index's device. Throws when token_index is not int64.
at::Tensor counter_uniform(const at::Tensor& token_index, uint64_t seed, int64_t step);

// log_ratio [...] float (tau - s: teacher minus student log-prob of the sampled
// token), token_index [...] int64 as above -> bool [...] M with
// M ~ Bernoulli(min(exp(log_ratio), 1)): M = counter_uniform(...) < min(exp(log_ratio), 1).
// log_ratio >= 0 always gives true; -inf and NaN give false. Not differentiable.
// Throws on mismatched shapes or dtypes.
at::Tensor trust_mask(const at::Tensor& log_ratio, const at::Tensor& token_index, uint64_t seed,
                      int64_t step);

}  // namespace opd::ops
