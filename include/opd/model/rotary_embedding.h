// Rotary position embedding (rotate-half layout, as HF's Llama/Qwen), with the
// optional Llama-3 frequency scaling.
#pragma once

#include "opd/model/model_config.h"

#include <ATen/ATen.h>

namespace opd::model {

class RotaryEmbedding {
 public:
  explicit RotaryEmbedding(const ModelConfig& config);
  // cos, sin [B, T, D] in `dtype` for positions [B, T].
  std::pair<at::Tensor, at::Tensor> cos_sin(const at::Tensor& positions,
                                            at::ScalarType dtype) const;
  const at::Tensor& inv_freq() const { return inv_freq_; }  // [D/2] fp32, on the CPU

 private:
  at::Tensor inv_freq_;
  // inv_freq_ on the device of the last positions seen: one copy per device,
  // not one host-to-device copy every forward.
  mutable at::Tensor inv_freq_on_device_;
};

// x [B, H, T, D] rotated by cos/sin [B, T, D].
at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

}  // namespace opd::model
