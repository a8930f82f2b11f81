#include "opd/objectives/opd.h"

#include "opd/core/rollout_batch.h"
#include "opd/ops/token_logprob.h"

namespace opd {

ObjectiveOutput OpdObjective::compute(const ObjectiveInputs& in) {
  TORCH_CHECK(in.teacher_logprobs.defined(), "opd: teacher log-probs were not scored");
  auto s = ops::token_logprob(in.student_logits, in.targets);  // [B, T-1] fp32
  auto tau = in.teacher_logprobs.to(s.device());
  auto on_policy = (in.source == static_cast<int8_t>(TokenSource::kStudent)).to(at::kFloat) *
                   in.loss_mask;
  auto advantage = (tau - s).detach();
  ObjectiveOutput out;
  out.loss = -(advantage * s * in.token_weight * on_policy).sum();

  const double n = on_policy.sum().item<double>();
  auto log_ratio = (s - tau).detach();  // log pi_S / pi_T at sampled tokens
  auto masked_sum = [&](const at::Tensor& x) { return (x * on_policy).sum().item<double>(); };
  out.metrics.add("kl_k1", masked_sum(log_ratio), n);
  out.metrics.add("kl_k3", masked_sum((-log_ratio).exp() - 1 + log_ratio), n);
  out.metrics.add("advantage", masked_sum(advantage), n);
  out.metrics.add("student_logprob", masked_sum(s.detach()), n);
  out.metrics.add_total("tokens_student", n);
  return out;
}

}  // namespace opd
