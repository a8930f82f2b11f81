// Everything a training run is told, as plain typed structs. Each struct's
// fields are declared once, in its OPD_*_FIELDS list: type, member, YAML key,
// default, check and a one-line doc. The structs are expanded from those
// lists here; train_config_schema.h expands the same lists into the tables
// that the reader, the resolved-config writer, `--set` and the generated
// reference (docs/config_reference.md) derive from. Adding a key is one line
// in one list. YAML is read in one place (config_loader.h).
#pragma once

#include "opd/core/config_schema.h"
#include "opd/model/compute_dtype.h"
#include "opd/objectives/objective_config.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace opd::train {

// How each sample's teacher-prefix length l is drawn under the annealed cap.
enum class TeacherPrefixSampling {
  kCap,      // l = cap
  kUniform,  // l uniform in [0, cap]
};
inline config::Choices<TeacherPrefixSampling> choices(TeacherPrefixSampling) {
  return {{TeacherPrefixSampling::kCap, "cap"}, {TeacherPrefixSampling::kUniform, "uniform"}};
}

// Who writes TRD's refined response.
enum class Refiner {
  kTeacher,  // the teacher (TRD with a teacher)
  kStudent,  // OPSD: the student's initial weights, frozen, reading the reference solution; they also score
};
inline config::Choices<Refiner> choices(Refiner) { return {{Refiner::kTeacher, "teacher"}, {Refiner::kStudent, "student"}}; }

// What loading does with a prompt that leaves no room for max_new_tokens.
enum class OverlongPrompts {
  kError,  // refuse the dataset, naming file:line
  kDrop,   // leave the prompt out, counted in a warning
};
inline config::Choices<OverlongPrompts> choices(OverlongPrompts) {
  return {{OverlongPrompts::kError, "error"}, {OverlongPrompts::kDrop, "drop"}};
}

// How evaluation checks an answer: the names of eval::make_verifier.
enum class AnswerVerifier { kMathBoxed, kExactMatch };
inline config::Choices<AnswerVerifier> choices(AnswerVerifier) {
  return {{AnswerVerifier::kMathBoxed, "math_boxed"}, {AnswerVerifier::kExactMatch, "exact_match"}};
}

enum class LrSchedule { kConstant, kCosine };
inline config::Choices<LrSchedule> choices(LrSchedule) {
  return {{LrSchedule::kConstant, "constant"}, {LrSchedule::kCosine, "cosine"}};
}

// The projections LoRA may adapt (all of them by default).
inline const std::vector<std::string> kLoraProjections = {"q_proj",    "k_proj", "v_proj",  "o_proj",
                                                          "gate_proj", "up_proj", "down_proj"};

// X(type, member, key, default, check, doc) for each field; P(member1,
// member2, key, default1, default2, check, doc) for a pair of numbers.

// A model the run loads: an HF model directory.
#define OPD_MODEL_SPEC_FIELDS(X)                                                                       \
  X(std::string, path, "path", "", required(), "HF model directory, e.g. /models/Qwen3-1.7B")         \
  X(model::ComputeDtype, dtype, "dtype", model::ComputeDtype::kFloat32, any(), "compute dtype")       \
  X(std::string, device, "device", "auto", any(),                                                     \
    "where it runs: auto (cuda:$LOCAL_RANK when a GPU is visible, else cpu), cpu, cuda, cuda:1")       \
  X(std::string, chat_template, "chat_template", "", any(),                                           \
    "how text prompts are rendered: \"\" = the model's own Jinja template (tokenizer_config.json or "   \
    "chat_template.jinja; plain text when it has none), a name in configs/chat_templates (qwen3, "     \
    "llama3, chatml) or a file, or none = plain text")

#define OPD_DATA_FIELDS(X)                                                                             \
  X(std::string, train_path, "train", "", required(),                                                 \
    "prompts: JSONL (text or ids) or opd-prepare's .h5, e.g. data/train.jsonl")                        \
  X(int64_t, prompts_per_step, "prompts_per_step", 8, at_least(1), "prompts sampled per optimizer step (global)") \
  X(int64_t, samples_per_prompt, "samples_per_prompt", 1, at_least(1), "rollouts per prompt, e.g. 4") \
  X(bool, shuffle, "shuffle", true, any(), "reshuffle each epoch (seeded)")                           \
  X(std::string, system_prompt, "system_prompt", "", any(),                                           \
    "put first in text conversations without one; \"\" = none")                                       \
  X(bool, enable_thinking, "enable_thinking", true, any(), "Qwen3's thinking switch for text prompts") \
  X(std::string, eval_path, "eval", "", any(),                                                        \
    "problems evaluated during training (see `eval`): JSONL with an 'answer' per line, or opd-prepare's .h5; \"\" = none") \
  X(OverlongPrompts, overlong_prompts, "overlong_prompts", OverlongPrompts::kError, any(),             \
    "a prompt with no room for rollout.max_new_tokens in the models' positions, found at load: error or drop")

// Sampling, TrOPD's teacher-prefix guidance (the teacher writes the first l
// tokens, the student continues; the cap on l anneals from
// teacher_prefix_length to 0 over teacher_prefix_anneal_steps) and TRD's
// refinement.
#define OPD_ROLLOUT_FIELDS(X)                                                                          \
  X(int64_t, max_new_tokens, "max_new_tokens", 64, at_least(1), "response length cap, e.g. 8192")     \
  X(double, temperature, "temperature", 1.0, at_least(0), "sampling temperature; 0 = greedy")         \
  X(int64_t, top_k, "top_k", 0, at_least(0), "most likely tokens kept; 0 = off")                      \
  X(double, top_p, "top_p", 1.0, open_closed(0, 1), "nucleus mass kept; 1 = off")                     \
  X(double, min_p, "min_p", 0.0, closed_open(0, 1), "keep tokens with p >= min_p * p_max; 0 = off")   \
  X(int64_t, teacher_prefix_length, "teacher_prefix_length", 0, at_least(0),                          \
    "L: the teacher writes up to this many first response tokens, e.g. 1024; 0 = off")                 \
  X(int64_t, teacher_prefix_anneal_steps, "teacher_prefix_anneal_steps", 0, at_least(0),              \
    "S: steps over which the prefix cap anneals from L to 0; 0 = the run's steps")                     \
  X(TeacherPrefixSampling, teacher_prefix_sampling, "teacher_prefix_sampling", TeacherPrefixSampling::kCap, any(), \
    "per-sample prefix length: the cap, or uniform in [0, cap]")                                       \
  X(std::string, refinement_template, "refinement_template", "", any(),                               \
    "TRD: the prompt the refiner rewrites the attempt from, a name in configs/refinement (math, code) " \
    "or a file; \"\" = the bare prompt + attempt ids")                                                 \
  X(Refiner, refiner, "refiner", Refiner::kTeacher, any(),                                            \
    "TRD: who refines; student = OPSD (the frozen initial student reads the reference solution)")

// Evaluation of data.eval during training: k samples per problem from the
// student, verified; avg@k and pass@1 / pass@k overall and per domain.
#define OPD_EVAL_FIELDS(X)                                                                             \
  X(int64_t, every, "every", 0, at_least(0), "steps between evaluations; 0 = only before training and at the end") \
  X(bool, before_training, "before_training", true, any(), "evaluate the initial student (step 0) too") \
  X(int64_t, k, "k", 4, at_least(1), "samples per problem")                                           \
  X(int64_t, limit, "limit", 0, at_least(0), "only the first N problems; 0 = all")                    \
  X(AnswerVerifier, verifier, "verifier", AnswerVerifier::kMathBoxed, any(), "how an answer is checked (eval/verifier.h)") \
  X(double, temperature, "temperature", 0.6, at_least(0), "sampling temperature; 0 = greedy")         \
  X(double, top_p, "top_p", 0.95, open_closed(0, 1), "nucleus mass kept; 1 = off")                    \
  X(int64_t, max_new_tokens, "max_new_tokens", 0, at_least(0), "response length cap; 0 = rollout.max_new_tokens") \
  X(int64_t, batch, "batch", 32, at_least(1), "sequences generated together per rank")                \
  X(int64_t, log_samples, "log_samples", 4, at_least(0), "responses (with verdicts) written to eval.jsonl per evaluation")

// LoRA on the student: only the adapters train; saved models have them merged.
#define OPD_LORA_FIELDS(X)                                                                             \
  X(int64_t, rank, "rank", 0, at_least(0), "adapter rank; 0 = off (full fine-tuning)")                \
  X(double, alpha, "alpha", 16.0, above(0), "adapter scale numerator (scale = alpha / rank)")         \
  X(double, dropout, "dropout", 0.0, closed_open(0, 1), "dropout on the adapter input")               \
  X(std::vector<std::string>, targets, "targets", kLoraProjections, items(kLoraProjections),          \
    "projections that get adapters")

#define OPD_OPTIM_FIELDS(X, P)                                                                         \
  X(double, lr, "lr", 1e-5, above(0), "peak learning rate")                                           \
  X(double, weight_decay, "weight_decay", 0.0, at_least(0), "decoupled (AdamW)")                      \
  P(beta1, beta2, "betas", 0.9, 0.999, closed_open(0, 1), "AdamW's [beta1, beta2]")                  \
  X(double, eps, "eps", 1e-8, above(0), "AdamW's epsilon")                                            \
  X(double, grad_clip, "grad_clip", 1.0, at_least(0), "max global grad norm; 0 = off")                \
  X(int64_t, warmup_steps, "warmup_steps", 0, at_least(0), "linear warmup from 0")                    \
  X(double, warmup_ratio, "warmup_ratio", 0.0, closed_open(0, 1), "warmup as a fraction of steps when warmup_steps is 0") \
  X(LrSchedule, schedule, "schedule", LrSchedule::kConstant, any(), "learning-rate schedule after warmup") \
  X(double, min_lr_ratio, "min_lr_ratio", 0.0, closed(0, 1), "cosine floor as a fraction of lr")      \
  X(int64_t, zero_stage, "zero_stage", 0, closed(0, 1), "1: AdamW state sharded over ranks (ZeRO-1); 0: replicated")

// The top level's scalars; the sections follow in TrainConfig.
#define OPD_TRAIN_FIELDS(X)                                                                            \
  X(std::string, run_dir, "run_dir", "runs/default", nonempty(), "metrics, resolved config, checkpoints") \
  X(uint64_t, seed, "seed", 0, any(), "seeds sampling, shuffling and initialisation")                 \
  X(int64_t, steps, "steps", 100, at_least(1), "optimizer steps")                                     \
  X(int64_t, micro_batch_size, "micro_batch_size", 8, at_least(1), "sequences per forward/backward")  \
  X(int64_t, logits_chunk_tokens, "logits_chunk_tokens", 1024, at_least(0),                           \
    "student tokens per lm_head + loss chunk (the [N, V] logits never whole); 0 = whole logits")        \
  X(int64_t, log_every, "log_every", 1, at_least(1), "steps between progress lines")                  \
  X(int64_t, save_every, "save_every", 0, at_least(0), "steps between checkpoints; 0 = only at the end") \
  X(int64_t, keep_checkpoints, "keep_checkpoints", 3, at_least(0), "newest checkpoint-<step>/ dirs kept; 0 = all") \
  X(int64_t, max_skipped_steps, "max_skipped_steps", 10, at_least(0),                                 \
    "stop after this many non-finite steps in a row; 0 = never")                                       \
  X(int64_t, dist_timeout_s, "dist_timeout_s", 1800, closed(1, 604800),                                \
    "a collective that waits longer fails the run (multi-process)")                                   \
  X(std::string, reference_device, "reference_device", "", any(),                                     \
    "where objective.reference's model runs (auto, cpu, cuda:1); \"\" = the student's device")          \
  X(double, dist_bucket_mb, "dist_bucket_mb", 25.0, above(0), "gradient all-reduce bucket size (started during backward)") \
  X(bool, activation_checkpointing, "activation_checkpointing", false, any(),                         \
    "recompute each student layer in backward: less memory, ~1/3 more compute")                      \
  X(bool, log_gradient_noise, "log_gradient_noise", false, any(),                                     \
    "log grad_split_cosine, the cosine between the gradients of the step's two halves of prompts (one gradient copy more)")

#define OPD_CONFIG_PAIR_MEMBERS(m1, m2, key, d1, d2, check, doc) double m1 = d1, m2 = d2;

struct ModelSpec {
  OPD_MODEL_SPEC_FIELDS(OPD_CONFIG_MEMBER)
};

struct DataConfig {
  OPD_DATA_FIELDS(OPD_CONFIG_MEMBER)
};

struct RolloutConfig {
  OPD_ROLLOUT_FIELDS(OPD_CONFIG_MEMBER)
};

struct EvalConfig {
  OPD_EVAL_FIELDS(OPD_CONFIG_MEMBER)
};

struct LoraConfig {
  OPD_LORA_FIELDS(OPD_CONFIG_MEMBER)
};

struct OptimConfig {
  OPD_OPTIM_FIELDS(OPD_CONFIG_MEMBER, OPD_CONFIG_PAIR_MEMBERS)
};

struct TrainConfig {
  OPD_TRAIN_FIELDS(OPD_CONFIG_MEMBER)
  ModelSpec student;
  // The teacher: scores (and, where the objective asks, writes) every row;
  // with `teachers` it is the default for domains not listed there, and may
  // be left out (path "") when every prompt's domain has its own.
  ModelSpec teacher;
  std::map<std::string, ModelSpec> teachers;  // prompt domain -> its teacher, e.g. "math", "code"
  DataConfig data;
  RolloutConfig rollout;
  EvalConfig eval;
  LoraConfig lora;
  OptimConfig optim;
  ObjectiveConfig objective;
};

}  // namespace opd::train
