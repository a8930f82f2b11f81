#include "opd/objectives/full_vocab_divergence.h"

#include "opd/objectives/diagnostics.h"
#include "opd/objectives/estimators.h"
#include "opd/objectives/token_selection.h"
#include "opd/ops/token_logprob.h"

namespace opd {

ObjectiveNeeds FullVocabDivergenceObjective::needs() const {
  ObjectiveNeeds n;
  n.teacher_logits = true;
  n.student_logits = true;
  if (options_.tokens == TokenSource::kRefined) n.trajectory = Trajectory::kRefined;
  return n;
}

ObjectiveOutput FullVocabDivergenceObjective::compute(const ObjectiveInputs& in) {
  TORCH_CHECK(in.teacher_logits.defined(), options_.name, ": the teacher's logits were not scored");
  ObjectiveOutput out;
  auto tokens = objectives::tokens_from(in, options_.tokens);
  auto kl = ops::full_vocab_kl(in.student_logits, in.teacher_logits, options_.direction,
                               options_.support_k);
  auto capped = objectives::clip_per_token(kl, options_.kl_clip);
  out.loss = objectives::weighted_loss(capped, in.token_weight * tokens);

  const bool forward = options_.direction == ops::KlDirection::kForward;
  objectives::add_source_counts(out.metrics, in);
  objectives::add_masked_mean(out.metrics, forward ? "kl_forward" : "kl_reverse", kl, tokens);
  if (options_.kl_clip > 0) {
    objectives::add_fraction(out.metrics, "clipped_fraction", kl.detach() > options_.kl_clip, tokens);
  }
  objectives::add_student_entropy(out.metrics, ops::softmax_entropy(in.student_logits.detach()), tokens);
  return out;
}

}  // namespace opd
