// The interface every distillation objective implements (DESIGN §4). The
// trainer fills ObjectiveInputs with what needs() asks for and never knows
// which objective it runs.
#pragma once

#include "opd/core/metrics.h"
#include "opd/core/trajectory.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace opd {

// What an objective asks the rollout and the scoring passes for.
struct ObjectiveNeeds {
  bool teacher_logprobs = false;    // tau_t
  int64_t teacher_topk = 0;         // k > 0: the teacher's top-k ids and log-probs
  bool teacher_entropy = false;     // H_T,t of the full teacher softmax
  bool teacher_logits = false;      // full teacher logits, one micro-batch at a time
  bool reference_logprobs = false;  // r_t
  // The whole [B, T-1, V] student logits. Objectives that read the student
  // only through student_logprobs() leave it false, and the trainer then
  // gives them hidden states and the lm_head, projected chunk by chunk.
  bool student_logits = false;
  // The rho of each entropy selection (entropy_rho): the trainer ranks the
  // step's student tokens, over every micro-batch and rank, for each one
  // (ObjectiveInputs::selection_entropy, entropy_cuts).
  std::vector<double> entropy_fractions;
  Trajectory trajectory = Trajectory::kStudent;

  // Whether a teacher is read at all: for its scores or for trajectories
  // it writes (sft on the dataset's solutions reads none).
  bool uses_teacher() const {
    return teacher_logprobs || teacher_topk > 0 || teacher_entropy || teacher_logits ||
           trajectory != Trajectory::kDataset;
  }

  // The union of two objectives' needs (weighted sums); throws when they ask
  // for different trajectories.
  ObjectiveNeeds merged(const ObjectiveNeeds& other) const;
};

// Everything is aligned (core/token_alignment.h): position t is the prediction
// of token t+1; shapes are [B, T-1] unless noted.
struct ObjectiveInputs {
  at::Tensor student_logits;  // [B, T-1, V], requires grad; or undefined, and then:
  at::Tensor student_hidden;  // [B, T-1, H] final hidden states, requires grad
  at::Tensor student_head;    // [V, H] lm_head weight: logits = student_hidden @ student_head^T
  int64_t logits_chunk_rows = 1024;  // rows projected at a time from student_hidden
  at::Tensor targets;         // int64, the tokens being scored
  at::Tensor source;          // int8 TokenSource of each target
  at::Tensor loss_mask;       // float, 1 where the target trains
  // loss_mask scaled by the normaliser (DESIGN §3, global over micro-batches
  // and ranks): an objective's loss is sum_t l_t * token_weight_t.
  at::Tensor token_weight;
  // Each position's token key (core/token_keys.h: global row * kRowStride +
  // t), so per-token randomness does not depend on micro-batches or ranks. int64.
  at::Tensor token_index;
  // float, 1 where the target keeps its response on a correct solution of
  // its problem (train/valid_solution_tokens.h); undefined when not known.
  // Only diagnostics read it.
  at::Tensor valid_tokens;
  int64_t step = 0;   // optimizer step (0-based): schedules, trust-mask draws
  uint64_t seed = 0;  // the run's seed

  // From the scoring passes, when needs() asks (all fp32 unless noted).
  at::Tensor teacher_logprobs;    // tau_t
  at::Tensor teacher_topk_ids;    // [B, T-1, k] int64
  at::Tensor teacher_topk_logp;   // [B, T-1, k], log-probs under the full teacher softmax
  at::Tensor teacher_entropy;     // H_T,t in nats
  at::Tensor teacher_logits;      // [B, T-1, V] any float dtype, cut to the student's vocabulary
  at::Tensor reference_logprobs;  // r_t

  // Entropy selection over the whole step (needs().entropy_fractions): each
  // position's student entropy from a no-grad pass before any backward, and
  // per rho the cut over the step's student tokens on every rank (a token is
  // selected when its entropy >= the cut). Left empty, selection ranks the
  // tokens of this micro-batch alone.
  at::Tensor selection_entropy;
  std::vector<std::pair<double, float>> entropy_cuts;
};

struct ObjectiveOutput {
  at::Tensor loss;  // scalar, differentiable in student_logits
  Metrics metrics;  // diagnostics as (sum, count) over this micro-batch's tokens
};

class Objective {
 public:
  virtual ~Objective() = default;
  virtual std::string_view name() const = 0;
  virtual ObjectiveNeeds needs() const = 0;
  virtual ObjectiveOutput compute(const ObjectiveInputs& in) = 0;
};

}  // namespace opd
