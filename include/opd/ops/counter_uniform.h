// The project's counter-based random numbers: uniforms that are a pure
// function of (seed, step, key), with no generator state. Philox4x32-10
// (kernels/philox.h) gives the same bits on the CPU and on CUDA and is safe
// under CUDA graph capture. Trust masks, rollout sampling and the
// teacher-prefix lengths all draw from it, each with its own key.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace opd::ops {

// key [...] int64 -> [...] float64 u in [0, 1): the same key gets the same u
// however the batch is split into micro-batches or ranks, as long as the key
// is global to the step (token keys: core/token_keys.h; row keys: the global
// row). The bits, for anyone who must match them: out = Philox4x32-10(counter
// = (key lo, key hi, step lo, step hi), key = (seed lo, seed hi)) in 32-bit
// words, u = (out[0] * 2^21 + (out[1] >> 11)) * 2^-53. Computed on the key's
// device. Throws when the key is not int64.
at::Tensor counter_uniform(const at::Tensor& key, uint64_t seed, int64_t step);

}  // namespace opd::ops
