// The step's forward/backward: the student's logits and the objective's loss
// one micro-batch at a time, gradients accumulating in the student's
// parameters. The loss plan (loss_plan.h) is global, so the sum over
// micro-batches is the step's loss whatever the micro-batch size.
#pragma once

#include "opd/core/metrics.h"
#include "opd/model/causal_lm.h"
#include "opd/objectives/objective.h"
#include "opd/rollout/step_scorer.h"
#include "opd/rollout/trajectory_writer.h"
#include "opd/train/loss_plan.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace opd::train {

struct MicroBatching {
  int64_t micro_batch_size = 8;
  // > 0: objectives that read the student only through its log-probs get
  // hidden states and the lm_head, projected this many rows at a time (the
  // [N, V] logits never exist whole); 0: the whole logits.
  int64_t logits_chunk_tokens = 0;
  int64_t step = 0;
  uint64_t seed = 0;                         // the run's (trust-mask draws)
  std::optional<uint64_t> dropout_seed;      // reseeds the global CPU generator first (LoRA dropout draws from it)
  bool poison = false;                       // fault injection: the loss (and its gradient) is NaN
  std::function<void()> before_last_backward;  // e.g. arm the gradient sync's hooks
  // > 0: rows [0, split_at_row) end a micro-batch, and after_first_half runs
  // once their gradients are in (the gradient-noise diagnostic's halves).
  int64_t split_at_row = 0;
  std::function<void()> after_first_half;
  // Adds a vector over the ranks (entropy selection's step-wide ranking);
  // the default is one process's.
  std::function<std::vector<double>(std::vector<double>)> sum_over_ranks = [](std::vector<double> v) { return v; };
};

struct AccumulatedGradients {
  double loss = 0;              // this rank's sum of micro-batch losses
  double teacher_seconds = 0;   // spent in per-micro-batch teacher passes
};

// Accumulates the gradients of `objective` over `t` into the student's
// parameters (which the caller zeroes) and merges each micro-batch's metrics
// into `metrics`. An objective with entropy selection first gets a no-grad
// pass of the student over the step, so that it ranks the step's tokens on
// every rank, not one micro-batch's (the selected set, and so the update, do
// not depend on micro_batch_size or the world size).
AccumulatedGradients accumulate_gradients(model::CausalLM& student, Objective& objective,
                                          const rollout::Trajectories& t, const LossPlan& plan,
                                          rollout::StepScorer& scorer, const rollout::StepScores& scores,
                                          const MicroBatching& run, Metrics& metrics);

}  // namespace opd::train
