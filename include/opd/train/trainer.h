// The on-policy distillation loop: sample prompts, write the trajectories the
// objective trains on (student rollouts, teacher generations, dataset
// solutions or refinements), score them with the teacher (and the reference
// model), and step the student. The trainer never knows which objective it runs:
// it fills what the objective's needs() ask for.
#pragma once

#include "opd/core/metrics.h"
#include "opd/core/rollout_batch.h"
#include "opd/data/prompt_dataset.h"
#include "opd/data/prompt_format.h"
#include "opd/data/prompt_sampler.h"
#include "opd/data/refinement_template.h"
#include "opd/model/causal_lm.h"
#include "opd/objectives/objective.h"
#include "opd/train/adamw.h"
#include "opd/train/teacher_pool.h"
#include "opd/train/train_config.h"

#include <functional>
#include <memory>
#include <optional>

namespace opd::dist {
class Communicator;
class GradientSync;
}

namespace opd::train {

struct TrainSummary {
  Metrics before, after;          // evaluate() at the start and the end
  Metrics first_step, last_step;  // the first and last optimizer steps this run took
  int64_t steps = 0;              // steps done, counting those before a resume
  bool stopped = false;           // a stop request (SIGTERM/SIGINT) ended the run early, checkpointed;
                                  // `after` is then empty
};

class Trainer {
 public:
  // Loads the student, the teacher, the reference model (when the objective
  // needs r_t), the prompts and the objective; throws one clear error on a
  // bad model directory, prompt file, option, or a vocabulary the objective
  // cannot use (teacher smaller than the student, top_k above the vocabulary).
  // With a communicator of world size N, this process is one rank of a data
  // parallel run: it draws its 1/N of each step's prompts, and gradients and
  // loss normalisation are global, so N ranks make the update one process
  // makes at the same global batch. Only rank 0 writes to run_dir.
  explicit Trainer(TrainConfig config, std::shared_ptr<dist::Communicator> comm = nullptr);
  ~Trainer();

  // All configured steps (from the resumed one, if any): writes
  // <run_dir>/config.yaml (resolved), <run_dir>/metrics.jsonl and the same
  // metrics as TensorBoard scalars in <run_dir>/tensorboard/, a checkpoint
  // every save_every steps and the final student as an HF directory in
  // <run_dir>/final. On a stop request (stop_signal.h) it checkpoints after
  // the current step and returns early. Throws after max_skipped_steps
  // non-finite steps in a row.
  TrainSummary run();
  // Continues from a checkpoint directory (checkpoint.h): the student's
  // weights, the optimizer, the data position and the step. Throws naming
  // the directory when it is not a checkpoint of a run with this seed and
  // these shapes.
  void resume(const std::string& checkpoint_dir);
  int64_t next_step() const { return next_step_; }
  // Fault injection for tests: step `step`'s loss (and so its gradient) is NaN.
  void inject_non_finite_loss(int64_t step) { poisoned_step_ = step; }
  // One optimizer step (0-based `step`); returns its metrics.
  Metrics step(int64_t step);
  // The batch a step trains on, each row's teacher (an index into the
  // run's teachers) and the prompt that teacher reads the same response
  // behind (its own chat template).
  struct StepRollout {
    RolloutBatch batch;
    std::vector<int64_t> row_teacher;
    std::vector<std::vector<int64_t>> teacher_prompts;
    bool teacher_reads_differently = false;  // some teacher prompt differs from the batch's
  };
  // The batch step `step` trains on, written as the objective's trajectory
  // asks; draws the next prompts from the sampler. Adds rollout metrics
  // (response_length, generated_tokens, ...) to `metrics` when given.
  StepRollout rollout(int64_t step, Metrics* metrics = nullptr);
  // Rollouts of a fixed prompt set with a fixed seed, scored by both models:
  // kl_k1 (mean s - tau), teacher_logprob, student_logprob, response_length.
  Metrics evaluate();

  model::CausalLM& student() { return student_; }
  const TrainConfig& config() const { return config_; }
  const ObjectiveNeeds& needs() const { return needs_; }

 private:
  // Writes the student as an HF directory <run_dir>/<name>, atomically.
  void save_student(const std::string& name);
  // <run_dir>/checkpoint-<next_step_>: the student in its compute dtype (so a
  // resume is exact) and the trainer state; keeps the newest keep_checkpoints.
  // Called on every rank: rank 0 writes, and with ZeRO-1 each rank adds its
  // optimizer shard.
  void save_checkpoint();
  // LoRA (config_.lora): freezes the student's weights and adds the adapters.
  void add_student_lora();
  void zero_grad();
  // This rank's first row in the step's global batch.
  int64_t first_row() const;
  // Sums every metric's (sum, count) over ranks, so rank 0 logs the global step.
  void reduce_metrics(Metrics& metrics);
  // Construction checks that need the loaded models and dataset.
  void check_vocabularies() const;
  void check_dataset_targets() const;
  void load_reference();
  // Student rollouts behind a teacher prefix of each row's scheduled length
  // (rollout.teacher_prefix_*): prompt | teacher prefix | student continuation;
  // `rows` names each row's teacher and the prompt it writes behind.
  RolloutBatch guided_rollout(int64_t step, const std::vector<std::vector<int64_t>>& prompts,
                              const StepRollout& rows, Metrics* metrics);
  // TRD's refinement prompt, and whether the refiner is the frozen student (OPSD).
  void load_refinement();
  // The teacher and each domain's teacher with their formats
  // (prompt_formats.h), warning of each disagreement with the student's; in
  // OPSD the student's initial weights, frozen, in the student's format.
  void load_teachers();

  TrainConfig config_;
  std::shared_ptr<dist::Communicator> comm_;
  int64_t rank_ = 0, world_ = 1;
  model::CausalLM student_{nullptr};
  model::CausalLM reference_{nullptr};  // frozen; loaded only when needs_.reference_logprobs
  data::PromptFormat student_format_;
  TeacherPool teachers_;
  std::vector<int64_t> teacher_of_;  // dataset row -> its teacher in teachers_
  std::optional<data::RefinementTemplate> refinement_;
  bool opsd_ = false;  // the teacher is the frozen student and reads the reference solution
  data::PromptDataset dataset_;
  std::unique_ptr<data::PromptSampler> sampler_;
  std::unique_ptr<Objective> objective_;
  ObjectiveNeeds needs_;
  std::vector<at::Tensor> trainable_;  // the student's parameters that train (all, or LoRA's)
  // ZeRO-1: owner_[i] is the rank whose optimizer holds trainable_[i]'s state
  // and updates it; empty when every rank updates everything.
  std::vector<int64_t> owner_;
  std::unique_ptr<dist::GradientSync> grad_sync_;  // multi-process: gradient sums overlapping backward
  std::unique_ptr<AdamW> optimizer_;
  int64_t next_step_ = 0;
  int64_t consecutive_skips_ = 0;
  int64_t poisoned_step_ = -1;
};

// Per-token weights of a step (DESIGN §3), from its aligned loss mask
// [B, T-1] float: kToken gives loss_mask / (loss tokens of the step); kSequence
// gives each row's loss tokens 1 / (n_row * rows with n_row > 0), so every
// sequence counts the same. The counts are of the global batch: each passes
// through sum_over_ranks when given. Throws when the batch holds no loss token.
at::Tensor loss_token_weights(const at::Tensor& loss_mask, LossNormalization normalization,
                              const std::function<double(double)>& sum_over_ranks = nullptr);

// Token keys for per-token draws: global row * kRowStride + position.
constexpr int64_t kRowStride = int64_t{1} << 32;

}  // namespace opd::train
