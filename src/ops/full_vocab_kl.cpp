#include "opd/ops/full_vocab_kl.h"

#include "row_chunks.h"

#include <vector>

namespace opd::ops {
namespace {

// sum_v p (log p - log q) per row for log-probs [n, V'] (V' = V or support_k);
// a term with p = 0 is 0 in value and gradient, whatever log q is.
at::Tensor kl_rows(const at::Tensor& logp, const at::Tensor& logq) {
  auto p = logp.exp();
  auto live = p > 0;
  auto zero = at::zeros_like(logp);
  return (p * (at::where(live, logp, zero) - at::where(live, logq, zero))).sum(1);
}

}  // namespace

at::Tensor full_vocab_kl(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                         KlDirection direction, int64_t support_k, int64_t chunk_rows) {
  TORCH_CHECK(student_logits.dim() >= 1 && student_logits.sizes() == teacher_logits.sizes() &&
                  at::isFloatingType(student_logits.scalar_type()) &&
                  at::isFloatingType(teacher_logits.scalar_type()) && support_k >= 0 &&
                  support_k <= student_logits.size(-1) && chunk_rows > 0,
              "full_vocab_kl: expected float student and teacher logits of one shape [..., V], "
              "0 <= support_k <= V and chunk_rows > 0, got student ", student_logits.sizes(), " ",
              student_logits.scalar_type(), ", teacher ", teacher_logits.sizes(), " ",
              teacher_logits.scalar_type(), ", support_k ", support_k, ", chunk_rows ",
              chunk_rows);
  const int64_t V = student_logits.size(-1);
  auto student = student_logits.reshape({-1, V});
  auto teacher = teacher_logits.detach().reshape({-1, V});
  const int64_t n = student.size(0);

  auto out = concat_row_chunks(n, chunk_rows, [&](int64_t b, int64_t e) {
    auto s = student.slice(0, b, e).to(at::kFloat);
    auto t = teacher.slice(0, b, e).to(at::kFloat);
    if (support_k > 0) {
      // Renormalising on the support = log-softmax over the gathered logits.
      auto support = std::get<1>(t.topk(support_k, 1, /*largest=*/true, /*sorted=*/false));
      s = s.gather(1, support);
      t = t.gather(1, support);
    }
    auto logp_s = at::log_softmax(s, 1);
    auto logp_t = at::log_softmax(t, 1);
    switch (direction) {
      case KlDirection::kForward: return kl_rows(logp_t, logp_s);
      case KlDirection::kReverse: return kl_rows(logp_s, logp_t);
    }
    TORCH_INTERNAL_ASSERT(false, "full_vocab_kl: unknown direction");
  });
  auto lead = student_logits.sizes().vec();
  lead.pop_back();
  return out.view(lead);
}

}  // namespace opd::ops
