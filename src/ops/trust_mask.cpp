#include "opd/ops/trust_mask.h"

namespace opd::ops {
namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

// SplitMix64's output finaliser: a bijection on 64 bits with full avalanche.
inline uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

at::Tensor counter_uniform(const at::Tensor& token_index, uint64_t seed, int64_t step) {
  TORCH_CHECK(token_index.scalar_type() == at::kLong,
              "counter_uniform: expected int64 token_index, got ", token_index.sizes(), " ",
              token_index.scalar_type());
  // The stream of SplitMix64 seeded with `key`, read at position index + 1.
  const uint64_t key = mix(mix(seed + kGolden) + static_cast<uint64_t>(step) + kGolden);
  auto index = token_index.to(at::kCPU).contiguous();
  auto u = at::empty(index.sizes(), index.options().dtype(at::kDouble));
  const int64_t* in = index.data_ptr<int64_t>();
  double* out = u.data_ptr<double>();
  const int64_t n = index.numel();
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t bits = mix(key + (static_cast<uint64_t>(in[i]) + 1) * kGolden);
    out[i] = static_cast<double>(bits >> 11) * 0x1.0p-53;
  }
  return u.to(token_index.device());
}

at::Tensor trust_mask(const at::Tensor& log_ratio, const at::Tensor& token_index, uint64_t seed,
                      int64_t step) {
  TORCH_CHECK(log_ratio.sizes() == token_index.sizes() &&
                  at::isFloatingType(log_ratio.scalar_type()) &&
                  token_index.scalar_type() == at::kLong,
              "trust_mask: expected float log_ratio and int64 token_index of one shape, got "
              "log_ratio ", log_ratio.sizes(), " ", log_ratio.scalar_type(), ", token_index ",
              token_index.sizes(), " ", token_index.scalar_type());
  auto u = counter_uniform(token_index, seed, step);
  // min(exp(x), 1) = exp(min(x, 0)); u < 1 always, so x >= 0 always trusts.
  auto p_trust = log_ratio.detach().to(at::kDouble).clamp_max(0).exp();
  return u < p_trust;
}

}  // namespace opd::ops
