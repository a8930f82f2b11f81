#include "opd/model/causal_lm.h"

#include "opd/model/activation_checkpoint.h"
#include "opd/model/attention_mask.h"
#include "opd/model/kv_cache.h"
#include "opd/model/weight_init.h"

namespace opd::model {

DecoderModelImpl::DecoderModelImpl(const ModelConfig& c) : config_(c), rotary_(c) {
  torch::nn::EmbeddingOptions embedding(c.vocab_size, c.hidden_size);
  if (weights_uninitialized()) embedding._weight(new_weight({c.vocab_size, c.hidden_size}));  // else N(0, 1), as torch.nn
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(embedding));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c, i));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

at::Tensor DecoderModelImpl::forward(const at::Tensor& input_ids, const at::Tensor& position_ids,
                                     const at::Tensor& attention_mask, KvCache* cache) {
  TORCH_CHECK(input_ids.dim() == 2, "DecoderModel: expected input_ids [B, T], got ",
              input_ids.sizes());
  TORCH_CHECK(position_ids.sizes() == input_ids.sizes() &&
                  attention_mask.sizes() == input_ids.sizes(),
              "DecoderModel: input_ids ", input_ids.sizes(), ", position_ids ",
              position_ids.sizes(), " and attention_mask ", attention_mask.sizes(),
              " must have the same shape");
  auto valid = attention_mask.to(at::kBool);
  at::Tensor bias;
  if (cache != nullptr) {
    cache->begin(position_ids, valid);
    bias = attention_bias(position_ids, cache->key_positions(), cache->key_valid(),
                          config_.sliding_window);
  } else {
    bias = attention_bias(position_ids, position_ids, valid, config_.sliding_window);
  }
  auto h = embed_tokens(input_ids);
  auto [cos, sin] = rotary_.cos_sin(position_ids, h.scalar_type());
  const bool recompute = checkpoint_layers && cache == nullptr && is_training();
  for (const auto& layer : *layers) {
    auto block = std::dynamic_pointer_cast<DecoderLayerImpl>(layer);
    if (!recompute) {
      h = block->forward(h, cos, sin, bias, cache);
      continue;
    }
    h = checkpointed([block, cos = cos, sin = sin, bias](const at::Tensor& x) {
      return block->forward(x, cos, sin, bias, nullptr);
    }, h, block->parameters());
  }
  if (cache != nullptr) cache->commit();
  return norm(h);
}

CausalLMImpl::CausalLMImpl(const ModelConfig& c) : config_(c) {
  model = register_module("model", DecoderModel(c));
  if (!c.tie_word_embeddings) {
    lm_head = register_module("lm_head", Projection(c.hidden_size, c.vocab_size, /*bias=*/false));
  }
}

at::Tensor CausalLMImpl::hidden_states(const at::Tensor& input_ids, const at::Tensor& position_ids,
                                       const at::Tensor& attention_mask, KvCache* cache) {
  return model(input_ids, position_ids, attention_mask, cache);
}

at::Tensor CausalLMImpl::project(const at::Tensor& hidden) {
  if (lm_head) return lm_head(hidden);
  auto logits = packed_tied_head_.forward(hidden, {});
  return logits.defined() ? logits : at::linear(hidden, model->embed_tokens->weight);
}

const at::Tensor& CausalLMImpl::head_weight() const {
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

at::Tensor CausalLMImpl::forward(const at::Tensor& input_ids, const at::Tensor& position_ids,
                                 const at::Tensor& attention_mask, KvCache* cache) {
  return project(hidden_states(input_ids, position_ids, attention_mask, cache));
}

at::ScalarType CausalLMImpl::dtype() const { return model->embed_tokens->weight.scalar_type(); }
at::Device CausalLMImpl::device() const { return model->embed_tokens->weight.device(); }

at::Tensor position_ids_from_mask(const at::Tensor& attention_mask) {
  auto m = attention_mask.to(at::kLong);
  return (m.cumsum(1) - 1).clamp_min(0) * m;
}

}  // namespace opd::model
