// Grouped-query self-attention with RoPE and (Qwen3) q/k RMSNorm.
#pragma once

#include "opd/model/model_config.h"
#include "opd/model/projection.h"
#include "opd/model/rms_norm.h"

namespace opd::model {

class KvCache;

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& config, int64_t layer_index);
  // x [B, T, hidden]; cos/sin [B, T, D]; bias [B, 1, T, Tk] float. With a
  // cache, this forward's keys are appended and attention covers all slots.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                     const at::Tensor& bias, KvCache* cache);

  Projection q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};

 private:
  int64_t layer_index_, heads_, kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

}  // namespace opd::model
