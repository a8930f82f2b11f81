#include "opd/ops/linear_row_logprobs.h"

#include "logits_rows.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>

namespace opd::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

void check_arguments(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& ids,
                     int64_t chunk_rows) {
  const int64_t d = hidden.dim();
  TORCH_CHECK(d >= 1 && weight.dim() == 2 && hidden.size(-1) == weight.size(1) &&
                  at::isFloatingType(hidden.scalar_type()) && hidden.scalar_type() == weight.scalar_type(),
              "linear_row_logprobs: expected hidden [..., H] and weight [V, H] of one float dtype, got hidden ",
              hidden.sizes(), " ", hidden.scalar_type(), " and weight ", weight.sizes(), " ",
              weight.scalar_type());
  TORCH_CHECK(hidden.device() == weight.device() && ids.device() == weight.device(),
              "linear_row_logprobs: hidden on ", hidden.device(), ", weight on ", weight.device(), ", ids on ",
              ids.device());
  TORCH_CHECK(ids.dim() == d && ids.sizes().slice(0, d - 1) == hidden.sizes().slice(0, d - 1) &&
                  ids.scalar_type() == at::kLong,
              "linear_row_logprobs: expected int64 ids [..., K] with hidden's leading sizes ",
              hidden.sizes().slice(0, d - 1), ", got ", ids.sizes(), " ", ids.scalar_type());
  TORCH_CHECK(chunk_rows >= 1, "linear_row_logprobs: chunk_rows must be >= 1, got ", chunk_rows);
}

// Autograd wrapper: saves the [N, H] hidden states, the weight (no copy), the
// ids and two floats a row; never a [N, V] tensor.
struct LinearRowLogprobsFunction : public torch::autograd::Function<LinearRowLogprobsFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight,
                               const at::Tensor& ids, bool entropy, int64_t chunk_rows) {
    const int64_t H = hidden.size(-1), K = ids.size(-1);
    auto h = hidden.reshape({-1, H});
    auto ids2d = ids.reshape({-1, K});
    const int64_t N = h.size(0);
    const auto f32 = hidden.options().dtype(at::kFloat);
    auto logp = at::empty({N, K}, f32), max = at::empty({N}, f32), log_sum = at::empty({N}, f32);
    auto ent = entropy ? at::empty({N}, f32) : at::empty({0}, f32);
    for (int64_t b = 0; b < N; b += chunk_rows) {
      const int64_t e = std::min(N, b + chunk_rows);
      auto f = row_logprobs_forward(at::mm(h.slice(0, b, e), weight.t()), ids2d.slice(0, b, e), entropy);
      logp.slice(0, b, e).copy_(f.logp);
      max.slice(0, b, e).copy_(f.max);
      log_sum.slice(0, b, e).copy_(f.log_sum);
      if (entropy) ent.slice(0, b, e).copy_(f.entropy);
    }
    ctx->save_for_backward({h, weight, ids2d, max, log_sum});
    ctx->saved_data["chunk_rows"] = chunk_rows;
    ctx->saved_data["hidden_sizes"] = hidden.sizes().vec();
    auto lead = leading_sizes(hidden);
    auto with_k = lead;
    with_k.push_back(K);
    if (entropy) ent = ent.view(lead);
    ctx->mark_non_differentiable({ent});
    return {logp.view(with_k), ent};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list none(5);
    if (!grads[0].defined()) return none;
    const auto saved = ctx->get_saved_variables();
    const auto &h = saved[0], &weight = saved[1], &ids = saved[2], &max = saved[3], &log_sum = saved[4];
    const int64_t chunk_rows = ctx->saved_data["chunk_rows"].toInt();
    const int64_t N = h.size(0), V = weight.size(0);
    const bool need_hidden = ctx->needs_input_grad(0), need_weight = ctx->needs_input_grad(1);
    auto grad_logp = grads[0].to(at::kFloat).reshape({N, ids.size(1)});
    // A bf16 weight's gradient summed over chunks in bf16 would round once per
    // chunk; the sum is kept in fp32 and rounded once.
    const bool reduced = weight.scalar_type() == at::kBFloat16 || weight.scalar_type() == at::kHalf;
    at::Tensor grad_hidden, grad_weight;
    if (need_hidden) grad_hidden = at::empty_like(h, at::MemoryFormat::Contiguous);
    if (need_weight) grad_weight = at::zeros(weight.sizes(), weight.options().dtype(reduced ? at::kFloat : weight.scalar_type()));
    auto buffer = at::empty({std::min(N, chunk_rows), V}, weight.options());
    at::NoGradGuard no_grad;
    for (int64_t b = 0; b < N; b += chunk_rows) {
      const int64_t e = std::min(N, b + chunk_rows);
      auto h_chunk = h.slice(0, b, e);
      auto logits = at::mm(h_chunk, weight.t());
      auto grad_logits = buffer.narrow(0, 0, e - b);
      RowLogprobsForward f;
      f.max = max.slice(0, b, e);
      f.log_sum = log_sum.slice(0, b, e);
      row_logprobs_backward(logits, ids.slice(0, b, e), f, grad_logp.slice(0, b, e), grad_logits);
      if (need_hidden) {
        auto out = grad_hidden.slice(0, b, e);
        at::mm_out(out, grad_logits, weight);
      }
      if (need_weight) {
        if (reduced) {
          grad_weight.add_(at::mm(grad_logits.t(), h_chunk));
        } else {
          grad_weight.addmm_(grad_logits.t(), h_chunk);
        }
      }
    }
    auto out = none;
    if (need_hidden) out[0] = grad_hidden.view(ctx->saved_data["hidden_sizes"].toIntVector());
    if (need_weight) out[1] = reduced ? grad_weight.to(weight.scalar_type()) : grad_weight;
    return out;
  }
};

}  // namespace

RowLogprobs linear_row_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& ids,
                                bool entropy, int64_t chunk_rows) {
  check_arguments(hidden, weight, ids, chunk_rows);
  auto out = LinearRowLogprobsFunction::apply(hidden, weight, ids, entropy, chunk_rows);
  return {out[0], entropy ? out[1] : at::Tensor()};
}

}  // namespace opd::ops
