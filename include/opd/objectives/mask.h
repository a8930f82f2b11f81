// Mask Outlier (TrOPD paper, Table 1): the PG surrogate with
// A = 1[tau - s > c] (tau - s): tokens the teacher rejects by more than |c|
// nats get no gradient at all instead of a huge one.
#pragma once

#include "opd/objectives/objective.h"
#include "opd/objectives/policy_gradient.h"

namespace opd {

class MaskObjective final : public Objective {
 public:
  MaskObjective(objectives::PolicyGradientOptions options, double threshold)
      : options_(options), threshold_(threshold) {}
  std::string_view name() const override { return "mask"; }
  ObjectiveNeeds needs() const override { return options_.needs(); }
  // Adds masked_fraction: the share of trained tokens whose advantage was zeroed;
  // with in.valid_tokens, masked_valid_fraction: the share of those still on a
  // correct solution.
  ObjectiveOutput compute(const ObjectiveInputs& in) override;

 private:
  objectives::PolicyGradientOptions options_;
  double threshold_;
};

}  // namespace opd
