#include "opd/model/rotary_embedding.h"

#include <cmath>
#include <vector>

namespace opd::model {
namespace {

// Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, the band
// between interpolated smoothly.
double llama3_scale(double inv_freq, const RopeScaling& rs) {
  const double old_len = static_cast<double>(rs.original_max_position_embeddings);
  const double low_freq_wavelen = old_len / rs.low_freq_factor;
  const double high_freq_wavelen = old_len / rs.high_freq_factor;
  const double wavelen = 2.0 * M_PI / inv_freq;
  if (wavelen < high_freq_wavelen) return inv_freq;
  if (wavelen > low_freq_wavelen) return inv_freq / rs.factor;
  const double smooth =
      (old_len / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
  return (1.0 - smooth) * inv_freq / rs.factor + smooth * inv_freq;
}

}  // namespace

RotaryEmbedding::RotaryEmbedding(const ModelConfig& config) {
  const int64_t dim = config.head_dim;
  std::vector<float> freqs(dim / 2);
  for (int64_t i = 0; i < dim / 2; ++i) {
    // As HF: the exponent is formed in fp32, the power in fp32.
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    double f = 1.0 / std::pow(static_cast<float>(config.rope_theta), exponent);
    if (config.rope_scaling.kind == RopeScaling::Kind::kLlama3) f = llama3_scale(f, config.rope_scaling);
    freqs[i] = static_cast<float>(f);
  }
  inv_freq_ = at::tensor(freqs, at::kFloat);
  inv_freq_on_device_ = inv_freq_;
}

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::cos_sin(const at::Tensor& positions,
                                                           at::ScalarType dtype) const {
  if (inv_freq_on_device_.device() != positions.device()) {
    inv_freq_on_device_ = inv_freq_.to(positions.device());
  }
  auto angles = positions.to(at::kFloat).unsqueeze(-1) * inv_freq_on_device_;  // [B, T, D/2]
  auto emb = at::cat({angles, angles}, -1);
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto rotated = at::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
  return x * cos.unsqueeze(1) + rotated * sin.unsqueeze(1);
}

}  // namespace opd::model
