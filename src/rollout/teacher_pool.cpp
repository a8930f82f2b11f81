#include "opd/rollout/teacher_pool.h"

#include "opd/rollout/scoring_context.h"
#include "opd/rollout/sequence_packing.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

namespace opd::rollout {
namespace {

// Copies `part` (rows `index` of a B-row result) into `full`, allocating it
// on first use with part's trailing shape.
void put_rows(at::Tensor& full, const at::Tensor& part, const at::Tensor& index, int64_t B) {
  if (!part.defined()) return;
  if (!full.defined()) {
    auto shape = part.sizes().vec();
    shape[0] = B;
    full = at::zeros(shape, part.options());
  }
  full.index_copy_(0, index.to(full.device()), part.to(full.options()));
}

template <typename T>
std::vector<T> pick(const std::vector<T>& all, const std::vector<int64_t>& rows) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (int64_t r : rows) out.push_back(all.at(static_cast<size_t>(r)));
  return out;
}

}  // namespace

double WrittenResponses::tokens() const {
  double n = 0;
  for (const auto& r : ids) n += double(r.size());
  return n;
}

void TeacherPool::add(Teacher teacher) {
  TORCH_CHECK(index_of(teacher.key) < 0, "TeacherPool: two teachers named ", teacher.key);
  teachers_.push_back(std::move(teacher));
}

int64_t TeacherPool::index_of(const std::string& key) const {
  for (size_t i = 0; i < teachers_.size(); ++i) {
    if (teachers_[i].key == key) return static_cast<int64_t>(i);
  }
  return -1;
}

std::string TeacherPool::describe() const {
  std::string out;
  for (const auto& t : teachers_) out += (out.empty() ? "" : ", ") + t.key + " (" + t.path + ")";
  return out;
}

std::vector<TeacherPool::Group> TeacherPool::groups(const std::vector<int64_t>& row_teacher, int64_t rows) const {
  TORCH_CHECK(static_cast<int64_t>(row_teacher.size()) == rows, "TeacherPool: ", row_teacher.size(),
              " row teachers for ", rows, " rows");
  std::vector<std::vector<int64_t>> by_teacher(teachers_.size());
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t t = row_teacher[static_cast<size_t>(b)];
    TORCH_CHECK(0 <= t && t < size(), "TeacherPool: row ", b, " names teacher ", t, " of ", size());
    by_teacher[static_cast<size_t>(t)].push_back(b);
  }
  std::vector<Group> out;
  for (size_t t = 0; t < by_teacher.size(); ++t) {
    if (by_teacher[t].empty()) continue;
    const bool whole = static_cast<int64_t>(by_teacher[t].size()) == rows;
    out.push_back(Group{static_cast<int64_t>(t), std::move(by_teacher[t]), whole});
  }
  return out;
}

TokenScores TeacherPool::score(const RolloutBatch& batch, const std::vector<int64_t>& row_teacher,
                               const std::vector<std::vector<int64_t>>* contexts, const ScoreRequest& request,
                               int64_t micro_batch) {
  const int64_t B = batch.batch_size();
  TokenScores all;
  for (const auto& g : groups(row_teacher, B)) {
    auto& teacher = (*this)[g.teacher];
    auto r = request;
    if (r.vocab_size <= 0 || r.vocab_size > teacher.model->config().vocab_size) {
      r.vocab_size = teacher.model->config().vocab_size;
    }
    const auto index = at::tensor(g.rows, at::kLong);
    const auto part = g.whole ? batch : batch.select_rows(index);
    auto scores = contexts ? score_tokens_in_context(teacher.model, part, pick(*contexts, g.rows), r, micro_batch)
                           : score_tokens(teacher.model, part, r, micro_batch);
    if (g.whole) return scores;
    put_rows(all.logprobs, scores.logprobs, index, B);
    put_rows(all.topk_ids, scores.topk_ids, index, B);
    put_rows(all.topk_logp, scores.topk_logp, index, B);
    put_rows(all.entropy, scores.entropy, index, B);
  }
  return all;
}

at::Tensor TeacherPool::aligned_logits(const RolloutBatch& batch, const std::vector<int64_t>& row_teacher,
                                       const std::vector<std::vector<int64_t>>* contexts, int64_t vocab_size) {
  at::NoGradGuard no_grad;
  const int64_t B = batch.batch_size();
  at::Tensor all;
  for (const auto& g : groups(row_teacher, B)) {
    auto& model = (*this)[g.teacher].model;
    const auto index = at::tensor(g.rows, at::kLong);
    const auto part = g.whole ? batch : batch.select_rows(index);
    auto logits = contexts ? aligned_model_logits_in_context(model, part, pick(*contexts, g.rows), vocab_size)
                           : aligned_model_logits(model, part, vocab_size);
    if (g.whole) return logits;
    put_rows(all, logits, index, B);
  }
  return all;
}

WrittenResponses TeacherPool::generate(const std::vector<std::vector<int64_t>>& prompts,
                                       const std::vector<int64_t>& row_teacher,
                                       const std::function<GenerationConfig(const Teacher&)>& config) {
  const int64_t B = static_cast<int64_t>(prompts.size());
  WrittenResponses out;
  out.ids.resize(prompts.size());
  out.logprobs.resize(prompts.size());
  out.ended.resize(prompts.size());
  for (const auto& g : groups(row_teacher, B)) {
    auto& teacher = (*this)[g.teacher];
    auto c = config(teacher);
    const auto caps = c.row_max_new_tokens;
    if (!caps.empty()) {
      TORCH_CHECK(static_cast<int64_t>(caps.size()) == B, "TeacherPool::generate: ", caps.size(),
                  " per-row caps for ", B, " rows");
      c.row_max_new_tokens = pick(caps, g.rows);
    }
    c.row_ids.clear();
    for (int64_t r : g.rows) c.row_ids.push_back(c.first_row + r);
    const auto written = rollout::generate(teacher.model, pick(prompts, g.rows), c);
    auto ids = response_ids(written);
    auto logprobs = response_logprobs(written);
    for (size_t i = 0; i < g.rows.size(); ++i) {
      const auto b = static_cast<size_t>(g.rows[i]);
      out.ended[b] = ended_on_its_own(ids[i], caps.empty() ? c.max_new_tokens : caps[b], c);
      out.ids[b] = std::move(ids[i]);
      out.logprobs[b] = std::move(logprobs[i]);
    }
  }
  return out;
}

}  // namespace opd::rollout
