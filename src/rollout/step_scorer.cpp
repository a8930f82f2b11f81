#include "opd/rollout/step_scorer.h"

#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>

namespace opd::rollout {

StepScorer::StepScorer(StepScoring scoring, TeacherPool& teachers, model::CausalLM reference)
    : scoring_(scoring), teachers_(teachers), reference_(std::move(reference)) {
  TORCH_CHECK(!scoring_.reference_logprobs || reference_, "StepScorer: reference log-probs need a reference model");
}

bool StepScorer::teacher_scored() const {
  const auto& r = scoring_.teacher;
  return r.logprobs || r.topk > 0 || r.entropy;
}

StepScores StepScorer::score(const Trajectories& t) {
  StepScores out;
  if (teacher_scored() && !scoring_.teacher_logits) {
    out.teacher = teachers_.score(t.batch, t.row_teacher, t.teacher_contexts(), scoring_.teacher, scoring_.micro_batch);
  }
  if (scoring_.reference_logprobs) {
    out.reference_logprobs =
        score_token_logprobs(reference_, t.batch, scoring_.micro_batch, scoring_.teacher.vocab_size);
  }
  return out;
}

MicroBatchTeacher StepScorer::micro_batch_teacher(const Trajectories& t, int64_t begin, int64_t end,
                                                  const at::Tensor& targets, at::Device device) {
  at::NoGradGuard no_grad;
  const std::vector<int64_t> row_teacher(t.row_teacher.begin() + begin, t.row_teacher.begin() + end);
  std::vector<std::vector<int64_t>> contexts;
  const auto* all_contexts = t.teacher_contexts();
  if (all_contexts) contexts.assign(all_contexts->begin() + begin, all_contexts->begin() + end);
  MicroBatchTeacher out;
  out.logits = teachers_
                   .aligned_logits(t.batch.rows(begin, end), row_teacher, all_contexts ? &contexts : nullptr,
                                   scoring_.teacher.vocab_size)
                   .to(device);
  if (teacher_scored()) out.scores = score_logits(out.logits, targets, scoring_.teacher);
  return out;
}

}  // namespace opd::rollout
