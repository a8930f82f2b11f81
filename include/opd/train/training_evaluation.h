// Evaluation of data.eval during a run (the `eval` section): the student
// samples k answers per problem, each checked by the verifier. A data
// parallel run splits the problems over its ranks and sums their counts, so
// every rank gets the whole set's figures whatever the world size (draws are
// keyed by problem and sample, and the same at every evaluation).
#pragma once

#include "opd/core/metrics.h"
#include "opd/data/prompt_dataset.h"
#include "opd/data/prompt_format.h"
#include "opd/model/causal_lm.h"
#include "opd/train/train_config.h"

#include <cstdint>
#include <string>
#include <vector>

namespace opd::dist {
class Communicator;
}

namespace opd::train {

// One logged response: its problem's line in data.eval, the text, the verdict.
struct EvalSampleRecord {
  int64_t line = 0;
  std::string domain;
  std::string response;
  bool correct = false;
};

struct TrainingEvalResult {
  // avg@k, pass@1 and pass@k over all problems, and "<domain>/..." for each
  // domain when the set names any; response_length (mean tokens) and seconds.
  Metrics metrics;
  std::vector<EvalSampleRecord> samples;  // this rank's first eval.log_samples responses
};

// Whether an evaluation follows `steps_done` of the run's `steps` optimizer
// steps: every eval.every steps and after the last (0, before training, is
// eval.before_training's call).
bool evaluation_due(const EvalConfig& eval, int64_t steps_done, int64_t steps);

// Evaluates `student` on `problems` as `config`'s eval section says (with
// rollout.max_new_tokens when eval.max_new_tokens is 0), this rank's share
// of the problems, the counts summed over `comm`'s ranks (nullptr: one process).
TrainingEvalResult evaluate_training(model::CausalLM& student, const data::PromptFormat& format,
                                     const data::PromptDataset& problems, const TrainConfig& config,
                                     dist::Communicator* comm);

}  // namespace opd::train
