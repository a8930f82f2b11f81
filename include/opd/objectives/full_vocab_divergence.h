// Full-vocabulary KL between the student and the teacher at every position,
// from the teacher's logits (TRD paper): the exact divergence, not an estimate.
//   trd:      forward KL on refined tokens (source 3)
//   fkl_full: forward KL on student tokens
//   rkl_full: reverse KL on student tokens
// Options: per-token clip (tokens above the cap get no gradient) and a top-k
// support (both softmaxes renormalised on the teacher's top-k).
#pragma once

#include "opd/core/rollout_batch.h"
#include "opd/objectives/objective.h"
#include "opd/ops/full_vocab_kl.h"

#include <cstdint>
#include <string>

namespace opd {

struct FullVocabDivergenceOptions {
  std::string name;  // trd, fkl_full or rkl_full
  ops::KlDirection direction = ops::KlDirection::kForward;
  TokenSource tokens = TokenSource::kStudent;  // which tokens train
  double kl_clip = 0;     // 0 = no cap
  int64_t support_k = 0;  // 0 = whole vocabulary
};

class FullVocabDivergenceObjective final : public Objective {
 public:
  explicit FullVocabDivergenceObjective(FullVocabDivergenceOptions options)
      : options_(std::move(options)) {}
  std::string_view name() const override { return options_.name; }
  ObjectiveNeeds needs() const override;
  // Metrics: kl_forward or kl_reverse (mean exact KL), clipped_fraction,
  // student_entropy, source counts.
  ObjectiveOutput compute(const ObjectiveInputs& in) override;

 private:
  FullVocabDivergenceOptions options_;
};

}  // namespace opd
