// The trainer's state, shared by trainer.cpp (the loop) and
// trainer_checkpoint.cpp (saving and resuming it).
#pragma once

#include "opd/data/prompt_sampler.h"
#include "opd/dist/communicator.h"
#include "opd/objectives/objective.h"
#include "opd/rollout/step_scorer.h"
#include "opd/rollout/trajectory_writer.h"
#include "opd/core/run_dir_lock.h"
#include "opd/core/tensorboard_writer.h"
#include "opd/train/metrics_log.h"
#include "opd/train/run_resources.h"
#include "opd/train/trainer.h"
#include "opd/train/updater.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace opd::train {

struct Trainer::Impl {
  Impl(TrainConfig config, std::shared_ptr<dist::Communicator> comm);

  Metrics step(int64_t step);
  Metrics evaluate();
  // data.eval after `steps_done` optimizer steps, on every rank; rank 0
  // writes it to `log` (eval.jsonl) and TensorBoard's eval/ (both null elsewhere).
  Metrics evaluate_answers(int64_t steps_done, MetricsLog* log, TensorBoardWriter* tensorboard);
  TrainSummary run();
  // <run_dir>/checkpoint-<next_step>: the student in its compute dtype (so a
  // resume is exact) and the trainer state; keeps the newest keep_checkpoints.
  // Called on every rank: rank 0 writes, and with ZeRO-1 each rank adds its
  // optimizer shard.
  void save_checkpoint();
  void resume(const std::string& checkpoint_dir);
  // Writes the student as an HF directory <run_dir>/<name>, atomically (LoRA
  // merged), and with LoRA the adapters alone in PEFT's layout in <name>_adapter.
  void save_student(const std::string& name);

  // LoRA (config.lora): freezes the student's weights and adds the adapters.
  void add_student_lora();
  // This rank's rows of the step's global batch: dataset lines, each
  // samples_per_prompt times; and where they start in it.
  std::vector<int64_t> next_rows();
  int64_t first_row() const;
  void barrier(const std::string& what) {
    if (comm) comm->barrier(what);
  }

  TrainConfig config;
  std::shared_ptr<dist::Communicator> comm;
  int64_t rank = 0, world = 1;
  std::optional<RunDirLock> run_lock;  // rank 0's hold on run_dir, for the trainer's life
  std::unique_ptr<Objective> objective;
  ObjectiveNeeds needs;
  RunResources resources;
  std::optional<rollout::TrajectoryWriter> writer;
  std::optional<rollout::StepScorer> scorer;
  std::unique_ptr<data::PromptSampler> sampler;
  std::unique_ptr<Updater> updater;
  int64_t next_step = 0;
  int64_t consecutive_skips = 0;
  int64_t poisoned_step = -1;
  bool solutions_known = false;  // the dataset's correct solutions are known: the steps mark valid tokens
};

}  // namespace opd::train
