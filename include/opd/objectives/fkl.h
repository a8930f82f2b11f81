// Top-k forward KL on student tokens (TrOPD paper's FKL baseline):
// l_t = sum_{v in TopK_T} p_T,v (log p_T,v - log pi_S,v), the gradient
// through the full student log-softmax (or, renormalised, through the k logits).
#pragma once

#include "opd/objectives/objective.h"

#include <cstdint>

namespace opd {

class FklObjective final : public Objective {
 public:
  FklObjective(int64_t top_k, bool renormalize) : top_k_(top_k), renormalize_(renormalize) {}
  std::string_view name() const override { return "fkl"; }
  ObjectiveNeeds needs() const override;
  // Metrics: fkl (mean per-token value), topk_mass, kl_k1/kl_k3, student_entropy.
  ObjectiveOutput compute(const ObjectiveInputs& in) override;

 private:
  int64_t top_k_;
  bool renormalize_;
};

}  // namespace opd
