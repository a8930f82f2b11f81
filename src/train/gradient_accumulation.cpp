#include "opd/train/gradient_accumulation.h"

#include "opd/core/stopwatch.h"
#include "opd/core/token_alignment.h"
#include "opd/objectives/student_logprobs.h"
#include "opd/objectives/token_selection.h"
#include "opd/rollout/scoring.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <limits>
#include <mutex>

namespace opd::train {
namespace {

// The student's inputs for rows [b, e) of the step: logits, or hidden states
// and the lm_head when the objective reads only log-probs.
void add_student(ObjectiveInputs& in, model::CausalLM& student, const RolloutBatch& rows, bool chunked_head,
                 int64_t chunk_tokens) {
  if (chunked_head) {
    in.student_hidden = rollout::aligned_model_hidden(student, rows);
    in.student_head = student->head_weight();
    in.logits_chunk_rows = chunk_tokens;
  } else {
    in.student_logits = rollout::aligned_model_logits(student, rows);
  }
}

// Entropy selection over the step: the student's entropy at every position
// (no grad, dropout off), and per rho the cut over every rank's student
// tokens. Entropies are taken >= +0 (rounding can give -0 or -1e-9), the
// same values the cut is found from and compared with.
void rank_step_entropy(model::CausalLM& student, const rollout::Trajectories& t, const LossPlan& plan,
                       const at::Tensor& targets, const at::Tensor& source, bool chunked_head,
                       const MicroBatching& run, const std::vector<double>& rhos, at::Tensor& selection_entropy,
                       std::vector<std::pair<double, float>>& cuts) {
  const auto& batch = t.batch;
  const auto device = student->device();
  at::NoGradGuard no_grad;
  student->eval();
  std::vector<at::Tensor> parts;
  for (int64_t b = 0; b < batch.batch_size(); b += run.micro_batch_size) {
    const int64_t e = std::min(batch.batch_size(), b + run.micro_batch_size);
    ObjectiveInputs in;
    add_student(in, student, batch.rows(b, e), chunked_head, run.logits_chunk_tokens);
    in.targets = targets.slice(0, b, e).to(device);
    const auto entropy = objectives::student_logprobs(in, false, "entropy selection").entropy.to(at::kFloat);
    parts.push_back(at::where(entropy > 0, entropy, at::zeros_like(entropy)));
  }
  student->train();
  selection_entropy = at::cat(parts, 0);
  const auto candidates = (source.to(device) == static_cast<int8_t>(TokenSource::kStudent)) &
                          (plan.loss_mask.to(device) > 0);
  const auto found =
      objectives::step_top_fraction_cuts(selection_entropy.masked_select(candidates), rhos, run.sum_over_ranks);
  cuts.clear();
  for (size_t i = 0; i < rhos.size(); ++i) cuts.emplace_back(rhos[i], found[i]);
}

}  // namespace

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
  const auto needs = objective.needs();
  const bool chunked_head = run.logits_chunk_tokens > 0 && !needs.student_logits;
  at::Tensor selection_entropy;
  std::vector<std::pair<double, float>> entropy_cuts;
  if (!needs.entropy_fractions.empty()) {
    rank_step_entropy(student, t, plan, targets, source, chunked_head, run, needs.entropy_fractions,
                      selection_entropy, entropy_cuts);
  }
  AccumulatedGradients out;
  at::Tensor loss_sum;
  const int64_t B = batch.batch_size();
  for (int64_t b = 0, e = 0; b < B; b = e) {
    e = std::min(B, b + run.micro_batch_size);
    if (b < run.split_at_row && run.split_at_row < e) e = run.split_at_row;
    auto rows = [&](const at::Tensor& x) { return x.defined() ? x.slice(0, b, e).to(device) : x; };
    ObjectiveInputs in;
    add_student(in, student, batch.rows(b, e), chunked_head, run.logits_chunk_tokens);
    in.selection_entropy = rows(selection_entropy);
    in.entropy_cuts = entropy_cuts;
    in.targets = rows(targets);
    in.source = rows(source);
    in.loss_mask = rows(plan.loss_mask);
    in.token_weight = rows(plan.token_weight);
    in.token_index = rows(plan.token_keys);
    in.valid_tokens = rows(plan.valid_tokens);
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
    if (e == run.split_at_row && run.after_first_half) run.after_first_half();
    loss_sum = loss_sum.defined() ? loss_sum + loss.loss.detach() : loss.loss.detach().to(at::kDouble);
    metrics.merge(loss.metrics);
  }
  out.loss = loss_sum.item<double>();  // the step's one read of the loss (no sync per micro-batch)
  return out;
}

}  // namespace opd::train
