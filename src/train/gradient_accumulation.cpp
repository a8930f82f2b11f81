#include "opd/train/gradient_accumulation.h"

#include "opd/core/stopwatch.h"
#include "opd/core/token_alignment.h"
#include "opd/rollout/scoring.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <limits>
#include <mutex>

namespace opd::train {

AccumulatedGradients accumulate_gradients(model::CausalLM& student, Objective& objective,
                                          const rollout::Trajectories& t, const LossPlan& plan,
                                          rollout::StepScorer& scorer, const rollout::StepScores& scores,
                                          const MicroBatching& run, Metrics& metrics) {
  const auto& batch = t.batch;
  const auto device = student->device();
  student->train();
  if (run.dropout_seed) {  // adapter dropout draws from the global generator: key it by step
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(*run.dropout_seed);
  }
  const auto targets = aligned_targets(batch.tokens), source = aligned_targets(batch.source);
  const bool teacher_per_micro_batch = scorer.scoring().teacher_logits;
  const bool chunked_head = run.logits_chunk_tokens > 0 && !objective.needs().student_logits;
  AccumulatedGradients out;
  const int64_t B = batch.batch_size();
  for (int64_t b = 0; b < B; b += run.micro_batch_size) {
    const int64_t e = std::min(B, b + run.micro_batch_size);
    auto rows = [&](const at::Tensor& x) { return x.defined() ? x.slice(0, b, e).to(device) : x; };
    ObjectiveInputs in;
    if (chunked_head) {
      in.student_hidden = rollout::aligned_model_hidden(student, batch.rows(b, e));
      in.student_head = student->head_weight();
      in.logits_chunk_rows = run.logits_chunk_tokens;
    } else {
      in.student_logits = rollout::aligned_model_logits(student, batch.rows(b, e));
    }
    in.targets = rows(targets);
    in.source = rows(source);
    in.loss_mask = rows(plan.loss_mask);
    in.token_weight = rows(plan.token_weight);
    in.token_index = rows(plan.token_keys);
    in.step = run.step;
    in.seed = run.seed;
    rollout::TokenScores teacher;
    if (teacher_per_micro_batch) {
      const Stopwatch teacher_pass;
      auto mb = scorer.micro_batch_teacher(t, b, e, in.targets, device);
      out.teacher_seconds += teacher_pass.seconds();
      in.teacher_logits = mb.logits;
      teacher = mb.scores;
    } else {
      teacher = {rows(scores.teacher.logprobs), rows(scores.teacher.topk_ids), rows(scores.teacher.topk_logp),
                 rows(scores.teacher.entropy)};
    }
    in.teacher_logprobs = teacher.logprobs;
    in.teacher_topk_ids = teacher.topk_ids;
    in.teacher_topk_logp = teacher.topk_logp;
    in.teacher_entropy = teacher.entropy;
    in.reference_logprobs = rows(scores.reference_logprobs);
    auto loss = objective.compute(in);
    if (run.poison) loss.loss = loss.loss * std::numeric_limits<double>::quiet_NaN();
    if (e == B && run.before_last_backward) run.before_last_backward();
    loss.loss.backward();
    out.loss += loss.loss.item<double>();
    metrics.merge(loss.metrics);
  }
  return out;
}

}  // namespace opd::train
