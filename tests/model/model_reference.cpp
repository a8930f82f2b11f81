#include "model/model_reference.h"

#include "opd/model/pretrained.h"

#include <ATen/core/grad_mode.h>

#include <cmath>

namespace opd::testing {
namespace {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps) {
  return x / (x.pow(2).mean(-1, true) + eps).sqrt() * w;
}

// Rotates pairs (i, i + D/2) of x [T, D] by angle t * inv_freq[i].
at::Tensor rope(const at::Tensor& x, double theta) {
  const int64_t T = x.size(0), D = x.size(1), half = D / 2;
  auto out = x.clone();
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      const double angle = double(t) * std::pow(theta, -2.0 * double(i) / double(D));
      const double a = x[t][i].item<double>(), b = x[t][i + half].item<double>();
      out[t][i] = a * std::cos(angle) - b * std::sin(angle);
      out[t][i + half] = b * std::cos(angle) + a * std::sin(angle);
    }
  }
  return out;
}

}  // namespace

at::Tensor reference_logits(model::CausalLM& model, const at::Tensor& ids) {
  at::NoGradGuard no_grad;
  const auto& c = model->config();
  std::map<std::string, at::Tensor> w;
  for (auto& [name, t] : model::named_weights(model)) w[name] = t.detach().to(at::kDouble);
  auto get = [&](const std::string& name) { return w.at(name); };
  auto linear = [&](const at::Tensor& x, const std::string& prefix, bool bias) {
    auto y = at::matmul(x, get(prefix + ".weight").t());
    return bias ? y + get(prefix + ".bias") : y;
  };
  const int64_t T = ids.size(0), H = c.num_attention_heads, KV = c.num_key_value_heads,
                D = c.head_dim;
  auto h = get("model.embed_tokens.weight").index_select(0, ids);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    auto x = rms_norm(h, get(p + "input_layernorm.weight"), c.rms_norm_eps);
    auto q = linear(x, p + "self_attn.q_proj", c.qkv_bias).view({T, H, D});
    auto k = linear(x, p + "self_attn.k_proj", c.qkv_bias).view({T, KV, D});
    auto v = linear(x, p + "self_attn.v_proj", c.qkv_bias).view({T, KV, D});
    if (c.qk_norm) {
      q = rms_norm(q, get(p + "self_attn.q_norm.weight"), c.rms_norm_eps);
      k = rms_norm(k, get(p + "self_attn.k_norm.weight"), c.rms_norm_eps);
    }
    auto attn = at::zeros({T, H * D}, at::kDouble);
    for (int64_t head = 0; head < H; ++head) {
      const int64_t kv = head / (H / KV);
      auto qh = rope(q.select(1, head), c.rope_theta);
      auto kh = rope(k.select(1, kv), c.rope_theta);
      auto vh = v.select(1, kv);
      for (int64_t t = 0; t < T; ++t) {
        int64_t first = 0;
        if (c.sliding_window > 0) first = std::max<int64_t>(0, t - c.sliding_window + 1);
        auto scores = at::matmul(kh.slice(0, first, t + 1), qh[t]) / std::sqrt(double(D));
        auto probs = (scores - scores.max()).exp();
        probs = probs / probs.sum();
        attn[t].slice(0, head * D, (head + 1) * D) = at::matmul(probs, vh.slice(0, first, t + 1));
      }
    }
    h = h + linear(attn, p + "self_attn.o_proj", c.o_proj_bias);
    x = rms_norm(h, get(p + "post_attention_layernorm.weight"), c.rms_norm_eps);
    auto gate = linear(x, p + "mlp.gate_proj", c.mlp_bias);
    auto act = gate / (1.0 + (-gate).exp()) * linear(x, p + "mlp.up_proj", c.mlp_bias);
    h = h + linear(act, p + "mlp.down_proj", c.mlp_bias);
  }
  h = rms_norm(h, get("model.norm.weight"), c.rms_norm_eps);
  const auto& head = c.tie_word_embeddings ? get("model.embed_tokens.weight") : get("lm_head.weight");
  return at::matmul(h, head.t());
}

}  // namespace opd::testing
