// A weighted sum of objectives: loss = sum_i w_i * loss_i over the same
// inputs. Each term's metrics are reported under "<name>." (or "<name>#i."
// when two terms share a name); the needs are the union of the terms'.
#pragma once

#include "opd/objectives/objective.h"

#include <memory>
#include <string>
#include <vector>

namespace opd {

class WeightedSumObjective final : public Objective {
 public:
  struct Term {
    double weight;
    std::unique_ptr<Objective> objective;
  };
  explicit WeightedSumObjective(std::vector<Term> terms);
  std::string_view name() const override { return "sum"; }
  ObjectiveNeeds needs() const override;
  ObjectiveOutput compute(const ObjectiveInputs& in) override;

 private:
  std::vector<Term> terms_;
  std::vector<std::string> prefixes_;
};

}  // namespace opd
