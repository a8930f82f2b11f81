// One pre-norm transformer block: x + attn(norm(x)), then + mlp(norm(.)).
#pragma once

#include "opd/model/attention.h"
#include "opd/model/mlp.h"
#include "opd/model/rms_norm.h"

namespace opd::model {

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& config, int64_t layer_index);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                     const at::Tensor& bias, KvCache* cache);

  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

}  // namespace opd::model
