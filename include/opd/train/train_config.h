// Everything a training run is told, as plain typed structs. YAML is read into
// these in one place (config_loader.h); nothing else parses YAML.
#pragma once

#include "opd/objectives/objective_config.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace opd::train {

// A model the run loads: an HF model directory.
struct ModelSpec {
  std::string path;               // e.g. /models/Qwen3-1.7B
  std::string dtype = "float32";  // compute dtype: float32, bfloat16, float16
  // How text prompts are rendered for this model: a name from
  // configs/chat_templates (qwen3, llama3, chatml) or a file; "" = plain text.
  std::string chat_template;
};

struct DataConfig {
  std::string train_path;          // prompts: JSONL (text or ids) or opd-prepare's .h5, e.g. data/train.jsonl
  int64_t prompts_per_step = 8;    // prompts sampled per optimizer step (global)
  int64_t samples_per_prompt = 1;  // rollouts per prompt, e.g. 4
  bool shuffle = true;             // reshuffle each epoch (seeded)
  std::string system_prompt;       // put first in text conversations without one; "" = none
  bool enable_thinking = true;     // Qwen3's thinking switch for text prompts
};

struct RolloutConfig {
  int64_t max_new_tokens = 64;  // response length cap, e.g. 8192
  double temperature = 1.0;     // 0 = greedy
  int64_t top_k = 0;            // 0 = off
  double top_p = 1.0;           // 1 = off
  double min_p = 0.0;           // keep tokens with p >= min_p * p_max; 0 = off
  // TrOPD's teacher-prefix guidance: the teacher writes the first l tokens,
  // the student continues; the cap on l anneals from teacher_prefix_length to
  // 0 over teacher_prefix_anneal_steps (0 = the run's steps). 0 = off.
  int64_t teacher_prefix_length = 0;        // L, e.g. 1024
  int64_t teacher_prefix_anneal_steps = 0;  // S
  std::string teacher_prefix_sampling = "cap";  // per-sample l: cap | uniform (in [0, cap])
  // TRD's refinement (objective trd): the prompt the refiner rewrites the
  // student's attempt from, a name in configs/refinement (math, code) or a
  // file; "" = the bare prompt + attempt ids.
  std::string refinement_template;
  // Who refines: teacher (TRD with a teacher) | student (OPSD: the student's
  // initial weights, frozen, read the reference solution; they also score).
  std::string refiner = "teacher";
};

// LoRA on the student: only the adapters train; saved models have them merged.
struct LoraConfig {
  int64_t rank = 0;  // 0 = off (full fine-tuning)
  double alpha = 16.0;
  double dropout = 0.0;
  std::vector<std::string> targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
};

enum class LrSchedule { kConstant, kCosine };

struct OptimConfig {
  double lr = 1e-5;                   // peak learning rate
  double weight_decay = 0.0;          // decoupled (AdamW)
  double beta1 = 0.9, beta2 = 0.999;  // YAML `betas: [0.9, 0.999]`
  double eps = 1e-8;
  double grad_clip = 1.0;             // max global grad norm; 0 = off
  int64_t warmup_steps = 0;           // linear warmup from 0
  LrSchedule schedule = LrSchedule::kConstant;
  double min_lr_ratio = 0.0;          // cosine floor as a fraction of lr
  int64_t zero_stage = 0;             // 1: AdamW state sharded over ranks (ZeRO-1); 0: replicated
};

struct TrainConfig {
  std::string run_dir = "runs/default";  // metrics, resolved config, checkpoints
  uint64_t seed = 0;
  int64_t steps = 100;                   // optimizer steps
  int64_t micro_batch_size = 8;          // sequences per forward/backward
  int64_t log_every = 1;                 // steps between progress lines
  int64_t save_every = 0;                // steps between checkpoints; 0 = only at the end
  int64_t keep_checkpoints = 3;          // newest checkpoint-<step>/ dirs kept; 0 = all
  int64_t max_skipped_steps = 10;        // stop after this many non-finite steps in a row; 0 = never
  int64_t dist_timeout_s = 1800;         // a collective that waits longer fails the run (multi-process)
  double dist_bucket_mb = 25.0;          // gradient all-reduce bucket size (started during backward)
  bool activation_checkpointing = false; // recompute each student layer in backward: less memory, ~1/3 more compute
  ModelSpec student;
  // The teacher: scores (and, where the objective asks, writes) every row;
  // with `teachers` it is the default for domains not listed there, and may
  // be left out (path "") when every prompt's domain has its own.
  ModelSpec teacher;
  std::map<std::string, ModelSpec> teachers;  // prompt domain -> its teacher, e.g. "math", "code"
  DataConfig data;
  RolloutConfig rollout;
  LoraConfig lora;
  OptimConfig optim;
  ObjectiveConfig objective;
};

}  // namespace opd::train
