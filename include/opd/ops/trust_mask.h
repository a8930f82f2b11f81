// TrOPD's Bernoulli trust mask, drawn from the counter-based uniforms of
// counter_uniform.h: the same bits on the CPU and on CUDA.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace opd::ops {

// log_ratio [...] float (tau - s: teacher minus student log-prob of the sampled
// token), token_index [...] int64 token keys (core/token_keys.h: global row *
// kRowStride + position) -> bool [...] M with
// M ~ Bernoulli(min(exp(log_ratio), 1)): M = counter_uniform(...) < min(exp(log_ratio), 1),
// compared in float64. log_ratio >= 0 always gives true; -inf and NaN give
// false. Not differentiable. Throws on mismatched shapes, dtypes or devices.
at::Tensor trust_mask(const at::Tensor& log_ratio, const at::Tensor& token_index, uint64_t seed,
                      int64_t step);

}  // namespace opd::ops
