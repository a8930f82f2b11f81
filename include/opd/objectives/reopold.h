// REOPOLD (Ko et al. 2026): the PG surrogate with the advantage floored,
// A = max(tau - s, c), so a token the teacher finds very unlikely cannot push
// the student arbitrarily hard. With entropy_rho > 0 and switch_step > 0 it is
// the two-stage variant: exploration without selection, then refinement on
// the high-entropy tokens.
#pragma once

#include "opd/objectives/objective.h"
#include "opd/objectives/policy_gradient.h"

namespace opd {

class ReopoldObjective final : public Objective {
 public:
  ReopoldObjective(objectives::PolicyGradientOptions options, double reward_floor)
      : options_(options), floor_(reward_floor) {}
  std::string_view name() const override { return "reopold"; }
  ObjectiveNeeds needs() const override { return options_.needs(); }
  // Adds clipped_fraction: the share of trained tokens whose advantage was floored.
  ObjectiveOutput compute(const ObjectiveInputs& in) override;

 private:
  objectives::PolicyGradientOptions options_;
  double floor_;
};

}  // namespace opd
