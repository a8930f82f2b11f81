// OPD (Thinking Machines recipe) and its two presets: on student tokens the
// PG surrogate l_t = -sg(A_t) * s_t with G-OPD's A = (tau - s) + (lambda - 1)(tau - r).
//   opd:         lambda = 1, every student token (A = tau - s, K1 reverse KL)
//   gopd:        lambda = 1.25 by default (ExOPD when > 1)
//   entropy_opd: entropy_rho = 0.2 by default (top-20% student-entropy tokens)
// All three accept every PG modifier, so they differ only in their defaults.
#pragma once

#include "opd/objectives/objective.h"
#include "opd/objectives/policy_gradient.h"

#include <string>

namespace opd {

class OpdObjective final : public Objective {
 public:
  OpdObjective(std::string name, objectives::PolicyGradientOptions options)
      : name_(std::move(name)), options_(options) {}
  std::string_view name() const override { return name_; }
  ObjectiveNeeds needs() const override { return options_.needs(); }
  ObjectiveOutput compute(const ObjectiveInputs& in) override;

 private:
  std::string name_;
  objectives::PolicyGradientOptions options_;
};

}  // namespace opd
