// OPD (Thinking Machines recipe): on student tokens, the policy-gradient
// surrogate l_t = -sg(tau_t - s_t) * s_t, whose gradient is the K1
// reverse-KL policy gradient.
#pragma once

#include "opd/objectives/objective.h"

namespace opd {

class OpdObjective final : public Objective {
 public:
  std::string_view name() const override { return "opd"; }
  ObjectiveNeeds needs() const override { return {/*teacher_logprobs=*/true, false}; }
  // Metrics: kl_k1 = mean(s - tau), kl_k3 = mean(exp(tau - s) - 1 - (tau - s)),
  // advantage, student_logprob, tokens_student.
  ObjectiveOutput compute(const ObjectiveInputs& in) override;
};

}  // namespace opd
