#include "opd/objectives/reopold.h"

#include "opd/objectives/advantage.h"
#include "opd/objectives/diagnostics.h"
#include "opd/objectives/estimators.h"

namespace opd {

ObjectiveOutput ReopoldObjective::compute(const ObjectiveInputs& in) {
  ObjectiveOutput out;
  auto t = objectives::policy_gradient_tokens(in, options_, out.metrics);
  objectives::add_fraction(out.metrics, "clipped_fraction", t.advantage < floor_, t.selected);
  auto advantage = objectives::floor_advantage(t.advantage, floor_);
  out.loss = objectives::policy_gradient_loss(advantage, t.s, in.token_weight * t.selected);
  return out;
}

}  // namespace opd
