#include "opd/objectives/mask.h"

#include "opd/objectives/advantage.h"
#include "opd/objectives/diagnostics.h"
#include "opd/objectives/estimators.h"

namespace opd {

ObjectiveOutput MaskObjective::compute(const ObjectiveInputs& in) {
  ObjectiveOutput out;
  auto t = objectives::policy_gradient_tokens(in, options_, out.metrics);
  const auto masked = t.log_ratio <= threshold_;
  objectives::add_fraction(out.metrics, "masked_fraction", masked, t.selected);
  objectives::add_valid_fraction(out.metrics, "masked_valid_fraction", t.selected * masked, in);
  auto advantage = objectives::mask_advantage(t.advantage, t.log_ratio, threshold_);
  out.loss = objectives::policy_gradient_loss(advantage, t.s, in.token_weight * t.selected);
  return out;
}

}  // namespace opd
