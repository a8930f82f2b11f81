// Shared by the op tests: random logits with the padded rows a model gives.
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cstdint>

namespace opd::ops {

// [rows, V] logits ~ 3 N(0, 1) in `dtype`, the last two rows padded: one all
// zeros, one shifted by 1e3 (where logits - logsumexp in fp32 loses bits).
inline at::Tensor padded_logits(int64_t rows, int64_t V, at::ScalarType dtype, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto x = at::randn({rows, V}, gen, at::kFloat) * 3;
  x[rows - 1].zero_();
  x[rows - 2].add_(1e3);
  return x.to(dtype);
}

}  // namespace opd::ops
