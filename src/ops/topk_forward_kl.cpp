#include "opd/ops/topk_forward_kl.h"

#include "opd/ops/token_logprob.h"

#include "id_range.h"

namespace opd::ops {

at::Tensor topk_forward_kl(const at::Tensor& student_logits, const at::Tensor& topk_ids,
                           const at::Tensor& topk_logp, bool renormalize) {
  const int64_t d = student_logits.dim();
  TORCH_CHECK(d >= 1 && topk_ids.dim() == d && topk_logp.sizes() == topk_ids.sizes() &&
                  student_logits.sizes().slice(0, d - 1) == topk_ids.sizes().slice(0, d - 1) &&
                  topk_ids.size(-1) >= 1 && topk_ids.size(-1) <= student_logits.size(-1) &&
                  topk_ids.scalar_type() == at::kLong &&
                  at::isFloatingType(student_logits.scalar_type()) &&
                  at::isFloatingType(topk_logp.scalar_type()),
              "topk_forward_kl: expected float student_logits [..., V], int64 topk_ids and float "
              "topk_logp [..., K] with 1 <= K <= V, got student_logits ", student_logits.sizes(),
              " ", student_logits.scalar_type(), ", topk_ids ", topk_ids.sizes(), " ",
              topk_ids.scalar_type(), ", topk_logp ", topk_logp.sizes(), " ",
              topk_logp.scalar_type());
  const int64_t V = student_logits.size(-1);
  check_ids_in_range(topk_ids, V, "topk_forward_kl");
  auto teacher = topk_logp.detach().to(at::kFloat);
  if (!renormalize) return forward_kl_on_support(gather_logprobs(student_logits, topk_ids), teacher);
  // On the support alone: log-softmax over the K gathered logits, so no
  // gradient reaches the other V - K (gather's backward writes exact zeros).
  auto student = at::log_softmax(student_logits.gather(-1, topk_ids).to(at::kFloat), -1);
  return forward_kl_on_support(student, at::log_softmax(teacher, -1));
}

at::Tensor forward_kl_on_support(const at::Tensor& student_logp, const at::Tensor& topk_logp) {
  TORCH_CHECK(student_logp.sizes() == topk_logp.sizes() && student_logp.dim() >= 1,
              "forward_kl_on_support: expected student and teacher log-probs [..., K] of one "
              "shape, got ", student_logp.sizes(), " and ", topk_logp.sizes());
  auto logp_t = topk_logp.detach().to(at::kFloat);
  auto p_t = logp_t.exp();
  // p_T = 0 terms are 0 (not 0 * inf = NaN), also in the backward pass.
  auto live = p_t > 0;
  auto zero = at::zeros_like(p_t);
  return (p_t * (at::where(live, logp_t, zero) - at::where(live, student_logp, zero))).sum(-1);
}

at::Tensor topk_mass(const at::Tensor& topk_logp) {
  TORCH_CHECK(topk_logp.dim() >= 1 && at::isFloatingType(topk_logp.scalar_type()),
              "topk_mass: expected float topk_logp [..., K], got ", topk_logp.sizes(), " ",
              topk_logp.scalar_type());
  return topk_logp.detach().to(at::kFloat).exp().sum(-1);
}

}  // namespace opd::ops
