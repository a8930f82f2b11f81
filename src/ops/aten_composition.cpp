#include "opd/ops/aten_composition.h"

namespace opd::ops::aten_composition {
namespace {

// sum_v p (log p - log q) per row; a term with p = 0 is 0 in value and gradient.
at::Tensor kl_terms(const at::Tensor& logp, const at::Tensor& logq) {
  auto p = logp.exp();
  auto live = p > 0;
  auto zero = at::zeros_like(logp);
  return (p * (at::where(live, logp, zero) - at::where(live, logq, zero))).sum(-1);
}

}  // namespace

at::Tensor gather_logprobs(const at::Tensor& logits, const at::Tensor& ids) {
  return at::log_softmax(logits.to(at::kFloat), -1).gather(-1, ids);
}

at::Tensor softmax_entropy(const at::Tensor& logits) {
  auto logp = at::log_softmax(logits.detach().to(at::kFloat), -1);
  auto p = logp.exp();
  return -at::where(p > 0, p * logp, at::zeros_like(p)).sum(-1);
}

at::Tensor topk_forward_kl(const at::Tensor& student_logits, const at::Tensor& topk_ids,
                           const at::Tensor& topk_logp, bool renormalize) {
  auto logits = student_logits.to(at::kFloat);
  auto logp_t = topk_logp.detach().to(at::kFloat);
  auto logp_s = renormalize ? at::log_softmax(logits.gather(-1, topk_ids), -1)
                            : at::log_softmax(logits, -1).gather(-1, topk_ids);
  if (renormalize) logp_t = at::log_softmax(logp_t, -1);
  return kl_terms(logp_t, logp_s);
}

at::Tensor full_vocab_kl(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                         KlDirection direction, int64_t support_k) {
  auto s = student_logits.to(at::kFloat);
  auto t = teacher_logits.detach().to(at::kFloat);
  if (support_k > 0) {
    auto support = std::get<1>(t.topk(support_k, -1, /*largest=*/true, /*sorted=*/false));
    s = s.gather(-1, support);
    t = t.gather(-1, support);
  }
  auto logp_s = at::log_softmax(s, -1);
  auto logp_t = at::log_softmax(t, -1);
  return direction == KlDirection::kForward ? kl_terms(logp_t, logp_s) : kl_terms(logp_s, logp_t);
}

TeacherTopk teacher_topk(const at::Tensor& logits, int64_t k) {
  at::NoGradGuard no_grad;
  auto logp = at::log_softmax(logits.detach().to(at::kFloat), -1);
  auto top = logp.topk(k, -1, /*largest=*/true, /*sorted=*/true);
  auto p = logp.exp();
  auto entropy = -at::where(p > 0, p * logp, at::zeros_like(p)).sum(-1);
  return {std::get<1>(top), std::get<0>(top), entropy};
}

}  // namespace opd::ops::aten_composition
