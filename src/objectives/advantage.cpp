#include "opd/objectives/advantage.h"

#include <c10/util/Exception.h>

namespace opd::objectives {

at::Tensor distillation_advantage(const at::Tensor& tau, const at::Tensor& s, const at::Tensor& r,
                                  double lambda) {
  auto advantage = (tau - s).detach();
  if (lambda == 1.0) return advantage;
  TORCH_CHECK(r.defined(), "lambda = ", lambda, " needs reference log-probs, none were scored");
  return advantage + (lambda - 1.0) * (tau - r).detach();
}

at::Tensor floor_advantage(const at::Tensor& advantage, double floor) {
  return at::clamp_min(advantage, floor);
}

at::Tensor mask_advantage(const at::Tensor& advantage, const at::Tensor& log_ratio,
                          double threshold) {
  return advantage * (log_ratio > threshold).to(advantage.scalar_type());
}

}  // namespace opd::objectives
