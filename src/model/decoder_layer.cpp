#include "opd/model/decoder_layer.h"

namespace opd::model {

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c, int64_t layer_index) {
  self_attn = register_module("self_attn", Attention(c, layer_index));
  mlp = register_module("mlp", Mlp(c));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& cos,
                                     const at::Tensor& sin, const at::Tensor& bias,
                                     KvCache* cache) {
  auto h = x + self_attn(input_layernorm(x), cos, sin, bias, cache);
  return h + mlp(post_attention_layernorm(h));
}

}  // namespace opd::model
