// EOPD (Jin et al. 2026): OPD on every student token, plus alpha times the
// top-k forward KL on the tokens where the teacher is uncertain, H_T,t > h
// (the teacher's full-vocabulary entropy, from the scoring pass). The FKL is
// not renormalised.
#pragma once

#include "opd/objectives/objective.h"
#include "opd/objectives/policy_gradient.h"

#include <cstdint>

namespace opd {

class EopdObjective final : public Objective {
 public:
  EopdObjective(objectives::PolicyGradientOptions options, int64_t top_k,
                double entropy_threshold, double alpha)
      : options_(options), top_k_(top_k), threshold_(entropy_threshold), alpha_(alpha) {}
  std::string_view name() const override { return "eopd"; }
  ObjectiveNeeds needs() const override;
  // Adds gated_fraction (tokens with H_T > h), fkl (on them), teacher_entropy, topk_mass.
  ObjectiveOutput compute(const ObjectiveInputs& in) override;

 private:
  objectives::PolicyGradientOptions options_;
  int64_t top_k_;
  double threshold_, alpha_;
};

}  // namespace opd
