// TrOPD's Bernoulli trust mask, drawn from a counter-based generator (no
// generator state): Philox4x32-10 (kernels/philox.h), the same bits on the
// CPU and on CUDA, and safe under CUDA graph capture.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace opd::ops {

// token_index [...] int64 -> [...] float64 u in [0, 1), a pure function of
// (seed, step, token_index): the same token gets the same u however the batch
// is split into micro-batches or ranks, as long as token_index is global to
// the step (e.g. row_in_step * T + t). The bits, for anyone who must match
// them: out = Philox4x32-10(counter = (index lo, index hi, step lo, step hi),
// key = (seed lo, seed hi)) in 32-bit words, u = (out[0] * 2^21 + (out[1] >> 11)) * 2^-53.
// Computed on token_index's device. Throws when token_index is not int64.
at::Tensor counter_uniform(const at::Tensor& token_index, uint64_t seed, int64_t step);

// log_ratio [...] float (tau - s: teacher minus student log-prob of the sampled
// token), token_index [...] int64 as above -> bool [...] M with
// M ~ Bernoulli(min(exp(log_ratio), 1)): M = counter_uniform(...) < min(exp(log_ratio), 1),
// compared in float64. log_ratio >= 0 always gives true; -inf and NaN give
// false. Not differentiable. Throws on mismatched shapes, dtypes or devices.
at::Tensor trust_mask(const at::Tensor& log_ratio, const at::Tensor& token_index, uint64_t seed,
                      int64_t step);

}  // namespace opd::ops
