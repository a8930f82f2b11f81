#include "opd/objectives/sft.h"

#include "opd/core/rollout_batch.h"
#include "opd/objectives/diagnostics.h"
#include "opd/objectives/estimators.h"
#include "opd/objectives/student_logprobs.h"
#include "opd/objectives/token_selection.h"

namespace opd {

ObjectiveNeeds SftObjective::needs() const {
  ObjectiveNeeds n;
  n.trajectory = targets_ == SftTargets::kDataset ? Trajectory::kDataset : Trajectory::kTeacher;
  return n;
}

ObjectiveOutput SftObjective::compute(const ObjectiveInputs& in) {
  ObjectiveOutput out;
  auto tokens = objectives::tokens_from(in, TokenSource::kTeacherPrefix);
  auto s = objectives::student_logprobs(in, /*topk=*/false, "sft").s;
  out.loss = objectives::weighted_loss(-s, in.token_weight * tokens);
  objectives::add_source_counts(out.metrics, in);
  objectives::add_masked_mean(out.metrics, "nll", -s, tokens);
  return out;
}

}  // namespace opd
