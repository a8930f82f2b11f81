// The one place where LibTorch 1.13 (Debian, CPU) and 2.x (CUDA builds) differ.
#pragma once

#include <ATen/ATen.h>
#include <torch/version.h>

namespace opd::compat {

inline constexpr bool kTorch2 = TORCH_VERSION_MAJOR >= 2;

// softmax(q k^T * scale + bias) v with the softmax in fp32. q [B, H, Tq, D],
// k/v [B, H, Tk, D], bias float [B, 1, Tq, Tk] additive (-1e30 = masked).
// 2.x has a fused kernel; 1.13 composes it.
inline at::Tensor scaled_dot_product_attention(const at::Tensor& q, const at::Tensor& k,
                                               const at::Tensor& v, const at::Tensor& bias,
                                               double scale) {
#if TORCH_VERSION_MAJOR >= 2
  // The fused kernel wants the mask in q's dtype; fp16 cannot hold -1e30.
  auto mask = q.scalar_type() == at::kHalf ? bias.clamp_min(-3.0e4).to(at::kHalf)
                                           : bias.to(q.scalar_type());
  return at::scaled_dot_product_attention(q, k, v, mask, /*dropout_p=*/0.0, /*is_causal=*/false,
                                          scale);
#else
  auto scores = at::matmul(q, k.transpose(-2, -1)).to(at::kFloat).mul_(scale).add_(bias);
  return at::matmul(at::softmax(scores, -1).to(v.scalar_type()), v);
#endif
}

}  // namespace opd::compat
