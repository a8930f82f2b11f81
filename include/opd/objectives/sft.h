// SFT: l_t = -s_t on off-policy tokens (source 1): the teacher's own
// generations (SeqKD) or the dataset's reference solutions. Trains the
// harness's teachers; the off-policy baseline.
#pragma once

#include "opd/objectives/objective.h"
#include "opd/objectives/objective_config.h"

namespace opd {

class SftObjective final : public Objective {
 public:
  explicit SftObjective(SftTargets targets) : targets_(targets) {}
  std::string_view name() const override { return "sft"; }
  ObjectiveNeeds needs() const override;
  // Metrics: nll (mean -s), source counts.
  ObjectiveOutput compute(const ObjectiveInputs& in) override;

 private:
  SftTargets targets_;
};

}  // namespace opd
