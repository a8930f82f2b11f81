#include "train/step_trajectories.h"

#include "opd/objectives/registry.h"

#include <string>

namespace opd::train {

StepTrajectories::StepTrajectories(const TrainConfig& config) : config_(config) {
  const auto objective = make_objective(config_.objective);
  const auto needs = objective->needs();
  resources_ = load_run_resources(config_, needs, std::string(objective->name()));
  writer_.emplace(make_trajectory_writer(config_, needs.trajectory, resources_));
  sampler_.emplace(resources_.dataset.size(), config_.seed, config_.data.shuffle);
}

rollout::Trajectories StepTrajectories::write(int64_t step, Metrics* metrics) {
  std::vector<int64_t> rows;
  for (int64_t i : sampler_->next_shard(config_.data.prompts_per_step, 0, 1)) {
    rows.insert(rows.end(), static_cast<size_t>(config_.data.samples_per_prompt), i);
  }
  return writer_->write(step, rows, /*first_row=*/0, metrics);
}

}  // namespace opd::train
