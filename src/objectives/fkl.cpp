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
  // One pass for the sampled token, the top-k and the entropy. Renormalised
  // on the k tokens, the whole logits have an exact pass of their own (the
  // other V - k logits get exact zeros); chunked logits give log q_S as the
  // log_softmax of the k log-probs (a row's log Z cancels), whose gradient
  // sums to zero over the k up to rounding, so the other V - k logits get
  // only rounding-sized gradients (about 1e-8 of the top-k's).
  auto student_side = objectives::student_logprobs(in, /*topk=*/true, "fkl");
  at::Tensor fkl;
  if (!renormalize_) {
    fkl = ops::forward_kl_on_support(student_side.topk_logp, in.teacher_topk_logp);
  } else if (in.student_logits.defined()) {
    fkl = ops::topk_forward_kl(in.student_logits, in.teacher_topk_ids, in.teacher_topk_logp, /*renormalize=*/true);
  } else {
    fkl = ops::forward_kl_on_support(at::log_softmax(student_side.topk_logp, -1),
                                     at::log_softmax(in.teacher_topk_logp.to(at::kFloat), -1));
  }
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
