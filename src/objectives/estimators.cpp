#include "opd/objectives/estimators.h"

namespace opd::objectives {

at::Tensor weighted_loss(const at::Tensor& per_token, const at::Tensor& weight) {
  // where() rather than a product: a masked-out token whose value is inf or
  // NaN (a padded position, a -inf log-prob) must contribute 0, not NaN.
  auto w = weight.to(at::kFloat);
  return at::where(w != 0, per_token.to(at::kFloat) * w, at::zeros_like(w)).sum();
}

at::Tensor policy_gradient_loss(const at::Tensor& advantage, const at::Tensor& s,
                                const at::Tensor& weight) {
  return weighted_loss(-advantage.detach() * s, weight);
}

at::Tensor clip_per_token(const at::Tensor& kl, double clip) {
  if (clip <= 0) return kl;
  // Above the cap the value is the constant `clip`, so no gradient flows.
  return at::where(kl.detach() > clip, at::full_like(kl, clip), kl);
}

at::Tensor kl_k1(const at::Tensor& student_minus_teacher) { return student_minus_teacher.detach(); }

at::Tensor kl_k3(const at::Tensor& student_minus_teacher) {
  auto x = student_minus_teacher.detach();
  return at::expm1(-x) + x;
}

}  // namespace opd::objectives
