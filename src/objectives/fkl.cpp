#include "opd/objectives/fkl.h"

#include "opd/core/rollout_batch.h"
#include "opd/objectives/diagnostics.h"
#include "opd/objectives/estimators.h"
#include "opd/objectives/student_logprobs.h"
#include "opd/objectives/token_selection.h"
#include "opd/ops/topk_forward_kl.h"

namespace opd {

ObjectiveNeeds FklObjective::needs() const {
  ObjectiveNeeds n;
  n.teacher_logprobs = true;  // only for the kl_k1 / kl_k3 diagnostics
  n.teacher_topk = top_k_;
  return n;
}

ObjectiveOutput FklObjective::compute(const ObjectiveInputs& in) {
  TORCH_CHECK(in.teacher_topk_ids.defined() && in.teacher_topk_ids.size(-1) == top_k_,
              "fkl: the teacher's top-", top_k_, " was not scored");
  ObjectiveOutput out;
  auto student = objectives::tokens_from(in, TokenSource::kStudent);
  // One pass for the sampled token, the top-k and the entropy; renormalised,
  // the FKL reads only the k logits and has a pass of its own.
  auto student_side = objectives::student_logprobs(in, !renormalize_, "fkl");
  auto fkl = renormalize_ ? ops::topk_forward_kl(in.student_logits, in.teacher_topk_ids,
                                                 in.teacher_topk_logp, /*renormalize=*/true)
                          : ops::forward_kl_on_support(student_side.topk_logp, in.teacher_topk_logp);
  out.loss = objectives::weighted_loss(fkl, in.token_weight * student);

  objectives::add_source_counts(out.metrics, in);
  objectives::add_masked_mean(out.metrics, "fkl", fkl, student);
  objectives::add_masked_mean(out.metrics, "topk_mass", ops::topk_mass(in.teacher_topk_logp), student);
  objectives::add_student_entropy(out.metrics, student_side.entropy, student);
  if (in.teacher_logprobs.defined()) {
    objectives::add_kl_estimates(out.metrics, student_side.s, in.teacher_logprobs.to(at::kFloat),
                                 student);
  }
  return out;
}

}  // namespace opd
