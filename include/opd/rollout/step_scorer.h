// A step's scoring passes: each row's teacher (tau, top-k, entropy) and the
// reference model's r over the step's trajectories. When the objective
// wants the teacher's full logits, the teacher runs per training micro-batch
// instead, and tau / top-k / entropy come from those same logits rather than
// from a second pass.
#pragma once

#include "opd/model/causal_lm.h"
#include "opd/rollout/scoring.h"
#include "opd/rollout/teacher_pool.h"
#include "opd/rollout/trajectory_writer.h"

#include <cstdint>

namespace opd::rollout {

struct StepScoring {
  ScoreRequest teacher;           // what the teacher keeps (vocab_size: the student's)
  bool teacher_logits = false;    // the teacher's logits, per micro-batch (micro_batch_teacher)
  bool reference_logprobs = false;
  int64_t micro_batch = 8;        // rows per scoring forward
};

// The whole-batch scores of a step; tensors not asked for stay undefined.
struct StepScores {
  TokenScores teacher;            // empty when the teacher runs per micro-batch
  at::Tensor reference_logprobs;  // [B, T-1] fp32
};

// One micro-batch's teacher: its aligned logits (cut to the student's
// vocabulary) and what the request asks of them.
struct MicroBatchTeacher {
  at::Tensor logits;
  TokenScores scores;
};

class StepScorer {
 public:
  // `reference` may be null when scoring.reference_logprobs is false.
  StepScorer(StepScoring scoring, TeacherPool& teachers, model::CausalLM reference);

  StepScores score(const Trajectories& t);
  // Rows [begin, end) of t under their teachers, on `device`; `targets` are
  // those rows' aligned targets. Without gradient.
  MicroBatchTeacher micro_batch_teacher(const Trajectories& t, int64_t begin, int64_t end, const at::Tensor& targets,
                                        at::Device device);

  const StepScoring& scoring() const { return scoring_; }

 private:
  bool teacher_scored() const;

  StepScoring scoring_;
  TeacherPool& teachers_;
  model::CausalLM reference_;
};

}  // namespace opd::rollout
