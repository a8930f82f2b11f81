// The teachers of a run. A recipe names a default `teacher` and/or one
// teacher per prompt domain (`teachers: {math: ..., code: ...}`); each row of
// a batch belongs to one of them (row_teacher[b], an index here). Scoring a
// batch and writing responses run each teacher over its own rows only and put
// the results back in row order, so objectives never see the split.
#pragma once

#include "opd/core/rollout_batch.h"
#include "opd/data/prompt_format.h"
#include "opd/model/causal_lm.h"
#include "opd/rollout/generator.h"
#include "opd/rollout/scoring.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace opd::rollout {

struct Teacher {
  std::string key;   // "teacher" or "teachers.<domain>" (train/prompt_formats.h teacher_key)
  std::string path;  // its model directory
  model::CausalLM model{nullptr};  // frozen
  data::PromptFormat format;
};

// What teachers wrote for each row of a batch.
struct WrittenResponses {
  std::vector<std::vector<int64_t>> ids;
  std::vector<std::vector<float>> logprobs;  // sampler log-prob of each token
  std::vector<bool> ended;  // the row stopped (stop token, or short of its cap) rather than hit its cap
  double tokens() const;
};

class TeacherPool {
 public:
  void add(Teacher teacher);
  int64_t size() const { return static_cast<int64_t>(teachers_.size()); }
  Teacher& operator[](int64_t i) { return teachers_.at(static_cast<size_t>(i)); }
  const Teacher& operator[](int64_t i) const { return teachers_.at(static_cast<size_t>(i)); }
  // The index of the teacher with `key`; -1 when there is none.
  int64_t index_of(const std::string& key) const;
  // "teacher (path), teachers.math (path)" for logs and errors.
  std::string describe() const;

  // Rows b of `batch` scored by teacher row_teacher[b], behind contexts[b]
  // when `contexts` is given (scoring_context.h) and on the batch's own
  // prompts otherwise. Each teacher scores at most request.vocab_size logits
  // (its own vocabulary when smaller). As score_tokens.
  TokenScores score(const RolloutBatch& batch, const std::vector<int64_t>& row_teacher,
                             const std::vector<std::vector<int64_t>>* contexts, const ScoreRequest& request,
                             int64_t micro_batch);

  // The aligned logits [B, T-1, vocab_size] of one micro-batch, row b under
  // teacher row_teacher[b] (behind contexts[b] when given), without gradient.
  at::Tensor aligned_logits(const RolloutBatch& batch, const std::vector<int64_t>& row_teacher,
                            const std::vector<std::vector<int64_t>>* contexts, int64_t vocab_size);

  // Row b continued from prompts[b] by teacher row_teacher[b], with the
  // settings config(teacher) gives (its stop tokens, the seed, per-row caps
  // indexed by batch row). Draws are keyed by the batch row, so a row writes
  // the same whichever rows share its teacher.
  WrittenResponses generate(const std::vector<std::vector<int64_t>>& prompts, const std::vector<int64_t>& row_teacher,
                            const std::function<GenerationConfig(const Teacher&)>& config);

 private:
  // The rows of one teacher, in batch order.
  struct Group {
    int64_t teacher = 0;
    std::vector<int64_t> rows;
    bool whole = false;  // every row of the batch: callers skip the select and put-back copies
  };
  // The non-empty groups of `rows` rows, one per teacher that has any.
  std::vector<Group> groups(const std::vector<int64_t>& row_teacher, int64_t rows) const;

  std::vector<Teacher> teachers_;
};

}  // namespace opd::rollout
