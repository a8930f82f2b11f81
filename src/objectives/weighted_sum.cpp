#include "opd/objectives/weighted_sum.h"

#include "opd/objectives/diagnostics.h"

#include <map>

namespace opd {

WeightedSumObjective::WeightedSumObjective(std::vector<Term> terms) : terms_(std::move(terms)) {
  TORCH_CHECK(!terms_.empty(), "sum: needs at least one term");
  std::map<std::string, int> uses;
  for (const auto& t : terms_) ++uses[std::string(t.objective->name())];
  for (size_t i = 0; i < terms_.size(); ++i) {
    const std::string name(terms_[i].objective->name());
    prefixes_.push_back(uses[name] > 1 ? name + "#" + std::to_string(i) + "." : name + ".");
  }
  needs();  // throws now, not at the first step, when the terms cannot share a batch
}

ObjectiveNeeds WeightedSumObjective::needs() const {
  ObjectiveNeeds n = terms_.front().objective->needs();
  for (size_t i = 1; i < terms_.size(); ++i) n = n.merged(terms_[i].objective->needs());
  return n;
}

ObjectiveOutput WeightedSumObjective::compute(const ObjectiveInputs& in) {
  ObjectiveOutput out;
  for (size_t i = 0; i < terms_.size(); ++i) {
    auto term = terms_[i].objective->compute(in);
    auto weighted = terms_[i].weight * term.loss;
    out.loss = out.loss.defined() ? out.loss + weighted : weighted;
    out.metrics.merge(term.metrics, prefixes_[i]);
  }
  objectives::add_source_counts(out.metrics, in);
  return out;
}

}  // namespace opd
