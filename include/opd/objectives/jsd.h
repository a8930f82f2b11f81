// Generalised JSD (TrOPD paper, Eq. 4) with m = beta p_T + (1 - beta) pi_S:
//   l_t = beta * sum_{v in TopK_T} p_T,v log(p_T,v / m_v)      (gradient through m)
//       - sg(A_t) * s_t,  A_t = -(1 - beta)(s_t - log m(y_t))   (PG surrogate)
// on student tokens; m(y_t) uses the teacher's log-prob of the sampled token.
// beta -> 1 tends to OPD (divided by 1 - beta, with k = V); beta -> 0 tends to
// the top-k FKL (divided by beta) plus a PG term with A = exp(tau - s) - 1.
#pragma once

#include "opd/objectives/objective.h"

#include <cstdint>

namespace opd {

class JsdObjective final : public Objective {
 public:
  JsdObjective(double beta, int64_t top_k) : beta_(beta), top_k_(top_k) {}
  std::string_view name() const override { return "jsd"; }
  ObjectiveNeeds needs() const override;
  // Metrics: jsd_topk (mean of the first term / beta), advantage, topk_mass,
  // kl_k1/kl_k3, student_entropy.
  ObjectiveOutput compute(const ObjectiveInputs& in) override;

 private:
  double beta_;
  int64_t top_k_;
};

}  // namespace opd
