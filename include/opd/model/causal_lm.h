// The decoder-only language model, laid out as HF's *ForCausalLM so that
// parameter names ("model.layers.0.self_attn.q_proj.weight", "lm_head.weight")
// are the checkpoint's tensor names.
#pragma once

#include "opd/model/decoder_layer.h"
#include "opd/model/model_config.h"
#include "opd/model/projection.h"
#include "opd/model/rotary_embedding.h"

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>

namespace opd::model {

class DecoderModelImpl : public torch::nn::Module {
 public:
  explicit DecoderModelImpl(const ModelConfig& config);
  // input_ids, position_ids [B, T] int64; attention_mask [B, T] (1 = real
  // token). Returns final-normed hidden states [B, T, hidden]. With a cache,
  // the T tokens continue what the cache holds.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& position_ids,
                     const at::Tensor& attention_mask, KvCache* cache);

  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
  // Training forwards keep only each layer's input and recompute the layer in
  // backward (activation_checkpoint.h): activation memory O(layers * B * T * hidden).
  bool checkpoint_layers = false;

 private:
  ModelConfig config_;
  RotaryEmbedding rotary_;
};
TORCH_MODULE(DecoderModel);

class CausalLMImpl : public torch::nn::Module {
 public:
  explicit CausalLMImpl(const ModelConfig& config);
  // Logits [B, T, V] in the weights' dtype; see DecoderModelImpl::forward.
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& position_ids,
                     const at::Tensor& attention_mask, KvCache* cache = nullptr);
  // Final hidden states [B, T, hidden] (no vocabulary projection).
  at::Tensor hidden_states(const at::Tensor& input_ids, const at::Tensor& position_ids,
                           const at::Tensor& attention_mask, KvCache* cache = nullptr);
  // hidden [..., hidden] -> logits [..., V], through lm_head or the tied embedding.
  at::Tensor project(const at::Tensor& hidden);
  // The [V, hidden] weight project() multiplies by: lm_head's or the tied embedding's.
  const at::Tensor& head_weight() const;

  const ModelConfig& config() const { return config_; }
  at::ScalarType dtype() const;
  at::Device device() const;

  DecoderModel model{nullptr};
  Projection lm_head{nullptr};  // null when tie_word_embeddings
  // The tied embedding packed as the head, while a CpuPackedWeights guard holds it.
  PackedLinear& packed_tied_head() { return packed_tied_head_; }

 private:
  ModelConfig config_;
  PackedLinear packed_tied_head_;
};
TORCH_MODULE(CausalLM);

// Position ids for a right-padded batch: 0.. along real tokens, 0 on pads.
at::Tensor position_ids_from_mask(const at::Tensor& attention_mask);

}  // namespace opd::model
