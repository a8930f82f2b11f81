#include "opd/objectives/opd.h"

#include "opd/objectives/estimators.h"

namespace opd {

ObjectiveOutput OpdObjective::compute(const ObjectiveInputs& in) {
  ObjectiveOutput out;
  auto t = objectives::policy_gradient_tokens(in, options_, out.metrics);
  out.loss = objectives::policy_gradient_loss(t.advantage, t.s, in.token_weight * t.selected);
  return out;
}

}  // namespace opd
