#include "opd/ops/row_logprobs.h"

#include "cuda_paths.h"
#include "id_range.h"
#include "logits_rows.h"
#include "softmax_rows_cpu.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <vector>

namespace opd::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// ids as [rows, K] int64, checked against logits [..., V].
at::Tensor checked_ids(const at::Tensor& logits, const at::Tensor& ids, const char* op) {
  const int64_t d = logits.dim();
  TORCH_CHECK(d >= 1 && ids.dim() == d && logits.sizes().slice(0, d - 1) == ids.sizes().slice(0, d - 1),
              op, ": expected logits [..., V] and ids [..., K], got ", logits.sizes(), " and ",
              ids.sizes());
  TORCH_CHECK(ids.scalar_type() == at::kLong, op, ": ids must be int64, got ", ids.scalar_type());
  TORCH_CHECK(ids.device() == logits.device(), op, ": ids on ", ids.device(), ", logits on ",
              logits.device());
  const int64_t V = logits.size(-1);
  check_ids_in_range(ids, V, op);
  int64_t rows = 1;
  for (int64_t i = 0; i < d - 1; ++i) rows *= logits.size(i);
  return ids.reshape({rows, ids.size(-1)}).contiguous();
}

void forward_cpu(const LogitsRows& x, const at::Tensor& ids, RowLogprobsForward& out) {
  const int64_t K = ids.size(1), V = x.vocab();
  const int64_t* id = ids.data_ptr<int64_t>();
  float* logp = out.logp.data_ptr<float>();
  float* max = out.max.data_ptr<float>();
  float* log_sum = out.log_sum.data_ptr<float>();
  float* entropy = out.entropy.defined() ? out.entropy.data_ptr<float>() : nullptr;
  at::parallel_for(0, x.rows(), row_grain(V), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const void* row = x.view.row(r);
      const auto sm = cpu::softmax_row(row, x.view.type, V, entropy ? entropy + r : nullptr);
      max[r] = sm.max;
      log_sum[r] = sm.log_sum;
      for (int64_t k = 0; k < K; ++k) {
        logp[r * K + k] = (cpu::load(row, x.view.type, id[r * K + k]) - sm.max) - sm.log_sum;
      }
    }
  });
}

void backward_cpu(const LogitsRows& x, const at::Tensor& ids, const at::Tensor& max,
                  const at::Tensor& log_sum, const at::Tensor& grad_logp, const at::Tensor& out) {
  const int64_t K = ids.size(1), V = x.vocab();
  const int64_t* id = ids.data_ptr<int64_t>();
  const float* g = grad_logp.data_ptr<float>();
  const float* mx = max.data_ptr<float>();
  const float* ls = log_sum.data_ptr<float>();
  char* grad = static_cast<char*>(out.data_ptr());
  const int64_t row_bytes = V * static_cast<int64_t>(out.element_size());
  at::parallel_for(0, x.rows(), row_grain(V), [&](int64_t begin, int64_t end) {
    std::vector<int64_t> order(K);
    for (int64_t r = begin; r < end; ++r) {
      const void* row = x.view.row(r);
      void* grad_row = grad + r * row_bytes;
      const cpu::RowSoftmax sm{mx[r], ls[r]};
      const float* gr = g + r * K;
      const int64_t* ir = id + r * K;
      float g_sum = 0;
      for (int64_t k = 0; k < K; ++k) g_sum += gr[k];
      // Dense part, then each distinct id once, recomputed in fp32 with its
      // sparse terms added, so a bf16 gradient is rounded only once.
      cpu::scaled_softmax_row(row, x.view.type, V, sm, -g_sum, grad_row);
      for (int64_t k = 0; k < K; ++k) order[k] = k;
      std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return ir[a] < ir[b]; });
      for (int64_t j = 0; j < K;) {
        const int64_t v = ir[order[j]];
        float sparse = 0;
        for (; j < K && ir[order[j]] == v; ++j) sparse += gr[order[j]];
        const float p = std::exp((cpu::load(row, x.view.type, v) - sm.max) - sm.log_sum);
        cpu::store(grad_row, x.view.type, v, sparse - g_sum * p);
      }
    }
  });
}

RowLogprobsForward run_forward(const LogitsRows& x, const at::Tensor& ids2d,
                               const at::Tensor& logits, const at::Tensor& ids, bool entropy) {
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(logits.device());
  const auto lead = leading_sizes(logits);
  RowLogprobsForward out;
  out.logp = at::empty(ids.sizes(), f32);
  out.max = at::empty(lead, f32);
  out.log_sum = at::empty(lead, f32);
  if (entropy) out.entropy = at::empty(lead, f32);
  if (x.rows() == 0) return out;
  if (logits.is_cuda()) {
    cuda::row_logprobs_forward(x, ids2d, out.logp, out.max, out.log_sum, out.entropy);
  } else {
    forward_cpu(x, ids2d, out);
  }
  return out;
}

void run_backward(const LogitsRows& x, const at::Tensor& ids2d, const at::Tensor& max,
                  const at::Tensor& log_sum, const at::Tensor& grad_logp,
                  const at::Tensor& grad_logits) {
  if (x.rows() == 0) return;
  auto g = grad_logp.to(at::kFloat).reshape({x.rows(), ids2d.size(1)}).contiguous();
  auto mx = max.reshape({-1}).contiguous(), ls = log_sum.reshape({-1}).contiguous();
  if (grad_logits.is_cuda()) {
    cuda::row_logprobs_backward(x, ids2d, mx, ls, g, grad_logits);
  } else {
    backward_cpu(x, ids2d, mx, ls, g, grad_logits);
  }
}

// Autograd wrapper: saves the logits (no copy), the ids and two floats a row.
struct RowLogprobsFunction : public torch::autograd::Function<RowLogprobsFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& logits,
                               const at::Tensor& ids, bool entropy) {
    auto x = logits_rows(logits, "row_logprobs");
    auto ids2d = checked_ids(logits, ids, "row_logprobs");
    auto out = run_forward(x, ids2d, logits, ids, entropy);
    ctx->save_for_backward({logits, ids2d, out.max, out.log_sum});
    auto h = entropy ? out.entropy : at::empty({0}, out.logp.options());
    ctx->mark_non_differentiable({h});
    return {out.logp, h};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& logits = saved[0];
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    auto x = logits_rows(logits, "row_logprobs");
    auto grad = at::empty(logits.sizes(), logits.options().dtype(x.dtype()));
    run_backward(x, saved[1], saved[2], saved[3], grads[0], grad);
    return {grad.to(logits.scalar_type()), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

RowLogprobs row_logprobs(const at::Tensor& logits, const at::Tensor& ids, bool entropy) {
  auto out = RowLogprobsFunction::apply(logits, ids, entropy);
  return {out[0], entropy ? out[1] : at::Tensor()};
}

RowLogprobsForward row_logprobs_forward(const at::Tensor& logits, const at::Tensor& ids,
                                        bool entropy) {
  at::NoGradGuard no_grad;
  auto x = logits_rows(logits, "row_logprobs_forward");
  return run_forward(x, checked_ids(logits, ids, "row_logprobs_forward"), logits, ids, entropy);
}

void row_logprobs_backward(const at::Tensor& logits, const at::Tensor& ids,
                           const RowLogprobsForward& forward, const at::Tensor& grad_logp,
                           const at::Tensor& grad_logits) {
  TORCH_CHECK(grad_logits.sizes() == logits.sizes() && grad_logits.is_contiguous() &&
                  grad_logits.scalar_type() == logits.scalar_type() &&
                  grad_logits.device() == logits.device(),
              "row_logprobs_backward: grad_logits must be a contiguous ", logits.scalar_type(),
              " tensor of sizes ", logits.sizes(), " on ", logits.device(), ", got ",
              grad_logits.sizes(), " ", grad_logits.scalar_type(), " on ", grad_logits.device());
  TORCH_CHECK(grad_logp.sizes() == ids.sizes(), "row_logprobs_backward: grad_logp ",
              grad_logp.sizes(), " does not match ids ", ids.sizes());
  at::NoGradGuard no_grad;
  auto x = logits_rows(logits, "row_logprobs_backward");
  auto ids2d = checked_ids(logits, ids, "row_logprobs_backward");
  if (x.dtype() == logits.scalar_type()) {
    run_backward(x, ids2d, forward.max, forward.log_sum, grad_logp, grad_logits);
  } else {  // logits read through an fp32 copy: write there, then convert once
    auto grad = at::empty(logits.sizes(), logits.options().dtype(x.dtype()));
    run_backward(x, ids2d, forward.max, forward.log_sum, grad_logp, grad);
    grad_logits.copy_(grad);
  }
}

}  // namespace opd::ops
