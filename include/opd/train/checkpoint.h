// Training checkpoints. <run_dir>/checkpoint-<step>/ is the student as a plain
// HF directory plus what a resume needs beside the weights: trainer_state.json
// (step, data position, skip count) and optimizer.safetensors. Nothing else is
// random between steps (every draw is keyed by seed and step), so these are the
// whole state. A checkpoint is written into a hidden temporary sibling and
// renamed when complete: a crash mid-write leaves the previous ones as they were.
#pragma once

#include "opd/data/prompt_sampler.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>

namespace opd::train {

struct TrainerState {
  int64_t step = 0;  // optimizer steps done: the next step to run
  uint64_t seed = 0;  // the run's seed (a resume under another seed would not continue it)
  data::SamplerState sampler;
  int64_t consecutive_skips = 0;  // steps skipped in a row for a non-finite loss or gradient
  int64_t optimizer_shards = 0;   // 0: one optimizer.safetensors; N: one file per rank of N (ZeRO-1)
};

// "checkpoint-<step>".
std::string checkpoint_name(int64_t step);
// "<run_dir>/.checkpoint-<step>.tmp": where a checkpoint is written before the rename.
std::string checkpoint_temp_dir(const std::string& run_dir, int64_t step);

// Writes trainer_state.json into `dir`: last, since its presence marks a
// checkpoint complete.
void write_trainer_state(const std::string& dir, const TrainerState& state);
// Writes optimizer.safetensors, or with shard >= 0 optimizer.rank<shard>.safetensors.
void write_optimizer_state(const std::string& dir, const std::map<std::string, at::Tensor>& optimizer,
                           int64_t shard = -1);
// Read them back; throw naming the file when one is missing or malformed.
TrainerState read_trainer_state(const std::string& dir);
std::map<std::string, at::Tensor> read_optimizer_state(const std::string& dir, int64_t shard = -1);

// Renames a complete temporary checkpoint to <run_dir>/checkpoint-<step>
// (replacing one of that name), then keeps only the newest `keep` (0 = all).
void commit_checkpoint(const std::string& run_dir, int64_t step, int64_t keep);

// Whether resuming the run in run_dir to `steps` has work to do. A finished
// run (it wrote final/) ended at the steps its metrics.jsonl holds: false
// when that is exactly `steps`; throws naming the run when it is more (the
// resume would replace final/ with older weights and cut metrics.jsonl).
bool resume_has_work(const std::string& run_dir, int64_t steps);

// The complete checkpoint of run_dir with the highest step, or "" when there
// is none. Temporaries and directories without trainer_state.json are skipped.
std::string latest_checkpoint(const std::string& run_dir);

}  // namespace opd::train
