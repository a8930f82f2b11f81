// A recipe's trajectory writer without a Trainer: the run's resources loaded
// as the trainer loads them, and the prompts drawn as a one-process run
// draws them, so trajectory tests need no optimizer, objective loop or run dir.
#pragma once

#include "opd/core/metrics.h"
#include "opd/data/prompt_sampler.h"
#include "opd/rollout/trajectory_writer.h"
#include "opd/train/run_resources.h"
#include "opd/train/train_config.h"

#include <cstdint>
#include <memory>
#include <optional>

namespace opd::train {

class StepTrajectories {
 public:
  explicit StepTrajectories(const TrainConfig& config);
  // Step `step`'s trajectories of the next prompts.
  rollout::Trajectories write(int64_t step, Metrics* metrics = nullptr);
  RunResources& resources() { return resources_; }

 private:
  TrainConfig config_;
  RunResources resources_;
  std::optional<rollout::TrajectoryWriter> writer_;
  std::optional<data::PromptSampler> sampler_;
};

}  // namespace opd::train
