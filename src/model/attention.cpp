#include "opd/model/attention.h"

#include "opd/model/kv_cache.h"
#include "opd/model/rotary_embedding.h"

#include <cmath>

namespace opd::model {
namespace {

// softmax(q k^T * scale + bias) v, the softmax in fp32. q [B, H, Tq, D],
// k/v [B, H, Tk, D], bias float [B, 1, Tq, Tk] additive (-1e30 = masked).
at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                  const at::Tensor& bias, double scale) {
  // The fused kernel wants the mask in q's dtype; fp16 cannot hold -1e30.
  const auto mask = q.scalar_type() == at::kHalf ? bias.clamp_min(-3.0e4).to(at::kHalf)
                                                 : bias.to(q.scalar_type());
  return at::scaled_dot_product_attention(q, k, v, mask, /*dropout_p=*/0.0, /*is_causal=*/false,
                                          scale);
}

}  // namespace

AttentionImpl::AttentionImpl(const ModelConfig& c, int64_t layer_index)
    : layer_index_(layer_index),
      heads_(c.num_attention_heads),
      kv_heads_(c.num_key_value_heads),
      head_dim_(c.head_dim) {
  q_proj = register_module("q_proj", Projection(c.hidden_size, heads_ * head_dim_, c.qkv_bias));
  k_proj = register_module("k_proj", Projection(c.hidden_size, kv_heads_ * head_dim_, c.qkv_bias));
  v_proj = register_module("v_proj", Projection(c.hidden_size, kv_heads_ * head_dim_, c.qkv_bias));
  o_proj = register_module("o_proj", Projection(heads_ * head_dim_, c.hidden_size, c.o_proj_bias));
  if (c.qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(head_dim_, c.rms_norm_eps));
    k_norm = register_module("k_norm", RMSNorm(head_dim_, c.rms_norm_eps));
  }
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const at::Tensor& cos,
                                  const at::Tensor& sin, const at::Tensor& bias,
                                  KvCache* cache) {
  const int64_t B = x.size(0), T = x.size(1);
  auto q = q_proj(x).view({B, T, heads_, head_dim_});
  auto k = k_proj(x).view({B, T, kv_heads_, head_dim_});
  auto v = v_proj(x).view({B, T, kv_heads_, head_dim_}).transpose(1, 2);
  if (q_norm) {
    q = q_norm(q);
    k = k_norm(k);
  }
  q = apply_rotary(q.transpose(1, 2), cos, sin);
  k = apply_rotary(k.transpose(1, 2), cos, sin);
  if (cache != nullptr) std::tie(k, v) = cache->append(layer_index_, k, v);
  const double scale = 1.0 / std::sqrt(double(head_dim_));
  const int64_t group = heads_ / kv_heads_;
  at::Tensor out;
  if (group == 1) {
    out = attend(q, k, v, bias, scale);
  } else if (cache != nullptr && T == 1) {
    // Decode: the `group` query heads that share a KV head become `group`
    // query rows of that head, so attention reads the cache in place instead
    // of copying all of it `group` times every token. The bias is the same
    // for every head, so each row takes the query position's.
    const int64_t Tk = k.size(2);
    auto grouped = attend(q.reshape({B, kv_heads_, group, head_dim_}), k, v,
                          bias.expand({B, 1, group, Tk}), scale);
    out = grouped.reshape({B, heads_, 1, head_dim_});
  } else {
    // Prefill and training: the bias, [B, 1, T, Tk], is the larger tensor;
    // grouping the rows would multiply it by `group`.
    out = attend(q, k.repeat_interleave(group, 1), v.repeat_interleave(group, 1), bias, scale);
  }
  return o_proj(out.transpose(1, 2).reshape({B, T, heads_ * head_dim_}));
}

}  // namespace opd::model
