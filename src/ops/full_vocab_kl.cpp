#include "opd/ops/full_vocab_kl.h"

#include "opd/ops/teacher_topk.h"

#include "cuda_paths.h"
#include "logits_rows.h"
#include "softmax_rows_cpu.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <limits>

namespace opd::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Per row: student (max, log_sum), teacher (max, log_sum), kl.
constexpr int64_t kStats = 5;

cpu::KlRow unpack(const float* s) { return {{s[0], s[1]}, {s[2], s[3]}, s[4]}; }

// Both sides as rows of one dtype: in place when they share fp32 or bf16,
// else both through fp32 copies.
std::pair<LogitsRows, LogitsRows> kl_rows(const at::Tensor& student, const at::Tensor& teacher) {
  auto s = logits_rows(student, "full_vocab_kl");
  auto t = logits_rows(teacher, "full_vocab_kl");
  if (s.dtype() != t.dtype()) {
    s = logits_rows(student.to(at::kFloat), "full_vocab_kl");
    t = logits_rows(teacher.to(at::kFloat), "full_vocab_kl");
  }
  return {s, t};
}

struct FullVocabKlFunction : public torch::autograd::Function<FullVocabKlFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& student,
                               const at::Tensor& teacher, bool forward) {
    // References, not a structured binding: the lambda below captures them,
    // which C++17 allows only for variables (clang refuses it; the fuzz
    // build, tests/fuzz, compiles this file with clang).
    auto rows = kl_rows(student, teacher);
    LogitsRows& s = rows.first;
    LogitsRows& t = rows.second;
    const int64_t n = s.rows(), V = s.vocab();
    const auto f32 = student.options().dtype(at::kFloat);
    auto stats = at::empty({n, kStats}, f32);
    if (n > 0 && student.is_cuda()) {
      cuda::full_vocab_kl_forward(s, t, forward, stats);
    } else if (n > 0) {
      float* out = stats.data_ptr<float>();
      at::parallel_for(0, n, row_grain(V), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const auto row = cpu::kl_row(s.view.row(r), t.view.row(r), s.view.type, V, forward);
          float* o = out + r * kStats;
          o[0] = row.s.max, o[1] = row.s.log_sum, o[2] = row.t.max, o[3] = row.t.log_sum;
          o[4] = row.kl;
        }
      });
    }
    ctx->save_for_backward({student, teacher, stats});
    ctx->saved_data["forward"] = forward;
    return {stats.select(1, kStats - 1).clone(at::MemoryFormat::Contiguous).view(leading_sizes(student))};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    if (!grads[0].defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    const auto saved = ctx->get_saved_variables();
    const bool forward = ctx->saved_data["forward"].toBool();
    auto rows = kl_rows(saved[0], saved[1]);  // (references: see forward)
    LogitsRows& s = rows.first;
    LogitsRows& t = rows.second;
    const auto& stats = saved[2];
    const int64_t n = s.rows(), V = s.vocab();
    auto g = grads[0].to(at::kFloat).reshape({n}).contiguous();
    auto grad = at::empty(saved[0].sizes(), saved[0].options().dtype(s.dtype()));
    if (n > 0 && grad.is_cuda()) {
      cuda::full_vocab_kl_backward(s, t, forward, stats, g, grad);
    } else if (n > 0) {
      const float* st = stats.data_ptr<float>();
      const float* gr = g.data_ptr<float>();
      char* out = static_cast<char*>(grad.data_ptr());
      const int64_t row_bytes = V * static_cast<int64_t>(grad.element_size());
      at::parallel_for(0, n, row_grain(V), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          cpu::kl_row_grad(s.view.row(r), t.view.row(r), s.view.type, V, forward,
                           unpack(st + r * kStats), gr[r], out + r * row_bytes);
        }
      });
    }
    return {grad.to(saved[0].scalar_type()), at::Tensor(), at::Tensor()};
  }
};

// sum_v p (log p - log q) per row for log-probs [..., K]; a term with p = 0
// is 0 in value and gradient, whatever log q is.
at::Tensor kl_on_support(const at::Tensor& logp, const at::Tensor& logq) {
  auto p = logp.exp();
  auto live = p > 0;
  auto zero = at::zeros_like(logp);
  return (p * (at::where(live, logp, zero) - at::where(live, logq, zero))).sum(-1);
}

}  // namespace

at::Tensor full_vocab_kl(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                         KlDirection direction, int64_t support_k) {
  TORCH_CHECK(student_logits.dim() >= 1 && student_logits.sizes() == teacher_logits.sizes() &&
                  at::isFloatingType(student_logits.scalar_type()) &&
                  at::isFloatingType(teacher_logits.scalar_type()) && support_k >= 0 &&
                  support_k <= student_logits.size(-1),
              "full_vocab_kl: expected float student and teacher logits of one shape [..., V] "
              "and 0 <= support_k <= V, got student ", student_logits.sizes(), " ",
              student_logits.scalar_type(), ", teacher ", teacher_logits.sizes(), " ",
              teacher_logits.scalar_type(), ", support_k ", support_k);
  TORCH_CHECK(student_logits.device() == teacher_logits.device(), "full_vocab_kl: student on ",
              student_logits.device(), ", teacher on ", teacher_logits.device());
  const bool forward = direction == KlDirection::kForward;
  auto teacher = teacher_logits.detach();
  if (support_k == 0) return FullVocabKlFunction::apply(student_logits, teacher, forward)[0];
  // Renormalising on the support = log-softmax over the gathered logits; the
  // gradient reaches the support_k logits only.
  auto support = teacher_topk(teacher, support_k).ids;
  auto student = student_logits.gather(-1, support).to(at::kFloat);
  // A row whose student puts no mass on the support (all -inf there, e.g. a
  // masked vocabulary) has no renormalised distribution: read it as uniform,
  // with no gradient, rather than NaN.
  const float inf = std::numeric_limits<float>::infinity();
  auto dead = (student == -inf).all(-1, /*keepdim=*/true);
  student = at::where(dead, at::zeros_like(student), student);
  auto logp_s = at::log_softmax(student, -1);
  auto logp_t = at::log_softmax(teacher.gather(-1, support).to(at::kFloat), -1);
  return forward ? kl_on_support(logp_t, logp_s) : kl_on_support(logp_s, logp_t);
}

}  // namespace opd::ops
