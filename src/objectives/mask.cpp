#include "opd/objectives/mask.h"

#include "opd/objectives/advantage.h"
#include "opd/objectives/diagnostics.h"
#include "opd/objectives/estimators.h"

namespace opd {

ObjectiveOutput MaskObjective::compute(const ObjectiveInputs& in) {
  ObjectiveOutput out;
  auto t = objectives::policy_gradient_tokens(in, options_, out.metrics);
  objectives::add_fraction(out.metrics, "masked_fraction", t.log_ratio <= threshold_, t.selected);
  auto advantage = objectives::mask_advantage(t.advantage, t.log_ratio, threshold_);
  out.loss = objectives::policy_gradient_loss(advantage, t.s, in.token_weight * t.selected);
  return out;
}

}  // namespace opd
