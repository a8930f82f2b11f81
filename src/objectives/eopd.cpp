#include "opd/objectives/eopd.h"

#include "opd/objectives/diagnostics.h"
#include "opd/objectives/estimators.h"
#include "opd/ops/topk_forward_kl.h"

namespace opd {

ObjectiveNeeds EopdObjective::needs() const {
  ObjectiveNeeds n = options_.needs();
  n.teacher_topk = top_k_;
  n.teacher_entropy = true;
  return n;
}

ObjectiveOutput EopdObjective::compute(const ObjectiveInputs& in) {
  TORCH_CHECK(in.teacher_entropy.defined() && in.teacher_topk_ids.defined() &&
                  in.teacher_topk_ids.size(-1) == top_k_,
              "eopd: the teacher's entropy and top-", top_k_, " were not scored");
  ObjectiveOutput out;
  auto t = objectives::policy_gradient_tokens(in, options_, out.metrics, /*topk=*/true);
  auto gated = (in.teacher_entropy.to(at::kFloat) > threshold_).to(at::kFloat) * t.student;
  auto fkl = ops::forward_kl_on_support(t.topk_logp, in.teacher_topk_logp);
  out.loss = objectives::policy_gradient_loss(t.advantage, t.s, in.token_weight * t.selected) +
             alpha_ * objectives::weighted_loss(fkl, in.token_weight * gated);

  objectives::add_fraction(out.metrics, "gated_fraction", gated, t.student);
  objectives::add_masked_mean(out.metrics, "fkl", fkl, gated);
  objectives::add_masked_mean(out.metrics, "teacher_entropy", in.teacher_entropy, t.student);
  objectives::add_masked_mean(out.metrics, "topk_mass", ops::topk_mass(in.teacher_topk_logp), t.student);
  return out;
}

}  // namespace opd
