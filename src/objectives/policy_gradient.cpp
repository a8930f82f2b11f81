#include "opd/objectives/policy_gradient.h"

#include "opd/core/rollout_batch.h"
#include "opd/objectives/advantage.h"
#include "opd/objectives/diagnostics.h"
#include "opd/objectives/student_logprobs.h"
#include "opd/objectives/token_selection.h"

namespace opd::objectives {

ObjectiveNeeds PolicyGradientOptions::needs() const {
  ObjectiveNeeds n;
  n.teacher_logprobs = true;
  n.reference_logprobs = lambda != 1.0;
  if (entropy_rho > 0) n.entropy_fractions = {entropy_rho};
  return n;
}

PolicyGradientTokens policy_gradient_tokens(const ObjectiveInputs& in,
                                            const PolicyGradientOptions& o, Metrics& m,
                                            bool topk) {
  TORCH_CHECK(in.teacher_logprobs.defined(), "policy-gradient objective: teacher log-probs were not scored");
  auto student = student_logprobs(in, topk, "policy-gradient objective");
  PolicyGradientTokens t;
  t.s = student.s;
  t.topk_logp = student.topk_logp;
  t.entropy = student.entropy;
  t.tau = in.teacher_logprobs.to(t.s.device(), at::kFloat);
  t.log_ratio = (t.tau - t.s).detach();
  at::Tensor r;
  if (o.lambda != 1.0) {
    TORCH_CHECK(in.reference_logprobs.defined(), "lambda = ", o.lambda,
                " needs reference log-probs, none were scored");
    r = in.reference_logprobs.to(t.s.device(), at::kFloat);
  }
  t.advantage = distillation_advantage(t.tau, t.s, r, o.lambda);
  t.student = tokens_from(in, TokenSource::kStudent);
  const bool select = o.entropy_rho > 0 && in.step >= o.switch_step;
  t.selected = select ? top_entropy_fraction(in, t.entropy, t.student, o.entropy_rho) : t.student;

  add_source_counts(m, in);
  add_kl_estimates(m, t.s, t.tau, t.student);
  add_student_entropy(m, t.entropy, t.student);
  add_masked_mean(m, "advantage", t.advantage, t.selected);
  if (r.defined()) add_masked_mean(m, "reward_correction", t.tau - r, t.student);
  if (o.entropy_rho > 0) add_fraction(m, "selected_fraction", t.selected, t.student);
  return t;
}

}  // namespace opd::objectives
