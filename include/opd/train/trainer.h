// The on-policy distillation loop. Each step reads like its paper: the next
// prompts -> write trajectories (rollout/trajectory_writer.h) -> score them
// (rollout/step_scorer.h) -> plan the loss (loss_plan.h) -> accumulate
// gradients over micro-batches (gradient_accumulation.h) -> update
// (updater.h) -> metrics. The trainer never knows which objective it runs:
// it fills what the objective's needs() ask for.
#pragma once

#include "opd/core/metrics.h"
#include "opd/train/train_config.h"

#include <cstdint>
#include <memory>
#include <string>

namespace opd {
struct ObjectiveNeeds;
}
namespace opd::model {
class CausalLM;
}
namespace opd::dist {
class Communicator;
}

namespace opd::train {

struct TrainSummary {
  Metrics before, after;          // evaluate() at the start and the end
  Metrics first_step, last_step;  // the first and last optimizer steps this run took
  // data.eval (training_evaluation.h) before the first step and after the
  // last; empty without data.eval (and before, with eval.before_training off or on a resume)
  Metrics eval_before, eval_after;
  int64_t steps = 0;              // steps done, counting those before a resume
  bool stopped = false;           // a stop request (SIGTERM/SIGINT) ended the run early, checkpointed;
                                  // `after` is then empty
};

class Trainer {
 public:
  // Loads the student, the teacher, the reference model (when the objective
  // needs r_t), the prompts and the objective (run_resources.h); throws one
  // clear error on a bad model directory, prompt file, option, or a
  // vocabulary the objective cannot use. With a communicator of world size
  // N, this process is one rank of a data parallel run: it draws its 1/N of
  // each step's prompts, and gradients and loss normalisation are global, so
  // N ranks make the update one process makes at the same global batch.
  // Only rank 0 writes to run_dir.
  explicit Trainer(TrainConfig config, std::shared_ptr<dist::Communicator> comm = nullptr);
  ~Trainer();

  // All configured steps (from the resumed one, if any): writes
  // <run_dir>/config.yaml (resolved), <run_dir>/metrics.jsonl and the same
  // metrics as TensorBoard scalars in <run_dir>/tensorboard/ (train/), with
  // data.eval's evaluations in <run_dir>/eval.jsonl and under eval/, a
  // checkpoint every save_every steps and the final student as an HF
  // directory in <run_dir>/final (with LoRA, also its adapters for PEFT in
  // <run_dir>/final_adapter). On a stop request (stop_signal.h) it
  // checkpoints after the current step and returns early. Throws after
  // max_skipped_steps non-finite steps in a row.
  TrainSummary run();
  // Continues from a checkpoint directory (checkpoint.h): the student's
  // weights, the optimizer, the data position and the step. Throws naming
  // the directory when it is not a checkpoint of a run with this seed and
  // these shapes.
  void resume(const std::string& checkpoint_dir);
  int64_t next_step() const;
  // Fault injection for tests: step `step`'s loss (and so its gradient) is NaN.
  void inject_non_finite_loss(int64_t step);
  // One optimizer step (0-based `step`); returns its metrics.
  Metrics step(int64_t step);
  // Rollouts of the first prompts_per_step training prompts with a fixed
  // seed, scored by both models: kl_k1 (mean s - tau), teacher_logprob,
  // student_logprob, response_length (without a teacher, only the student's).
  // data.eval is scored by answers instead (training_evaluation.h).
  Metrics evaluate();

  model::CausalLM& student();
  const TrainConfig& config() const;
  const ObjectiveNeeds& needs() const;

  struct Impl;  // src/train/trainer_impl.h

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace opd::train
