// The on-policy distillation loop: sample prompts, roll out the student,
// score with the teacher, and step the student on whichever objective the
// config names. The trainer never knows which objective it runs.
#pragma once

#include "opd/core/metrics.h"
#include "opd/data/prompt_dataset.h"
#include "opd/model/causal_lm.h"
#include "opd/objectives/objective.h"
#include "opd/train/adamw.h"
#include "opd/train/train_config.h"

#include <memory>

namespace opd::train {

struct TrainSummary {
  Metrics before, after;          // evaluate() at the start and the end
  Metrics first_step, last_step;  // the first and last optimizer steps
  int64_t steps = 0;
};

class Trainer {
 public:
  // Loads both models, the prompts and the objective; throws one clear error
  // on a bad model directory, prompt file or option.
  explicit Trainer(TrainConfig config);
  ~Trainer();

  // All configured steps: writes <run_dir>/config.yaml (resolved),
  // <run_dir>/metrics.jsonl and the final student as an HF directory in
  // <run_dir>/final.
  TrainSummary run();
  // One optimizer step (0-based `step`); returns its metrics.
  Metrics step(int64_t step);
  // Rollouts of a fixed prompt set with a fixed seed, scored by both models:
  // kl_k1 (mean s - tau), teacher_logprob, student_logprob, response_length.
  Metrics evaluate();

  model::CausalLM& student() { return student_; }
  const TrainConfig& config() const { return config_; }

 private:
  // Writes the student as an HF directory <run_dir>/<name>, atomically.
  void save_student(const std::string& name);

  TrainConfig config_;
  model::CausalLM student_{nullptr}, teacher_{nullptr};
  data::PromptDataset dataset_;
  std::unique_ptr<data::PromptSampler> sampler_;
  std::unique_ptr<Objective> objective_;
  std::unique_ptr<AdamW> optimizer_;
};

}  // namespace opd::train
