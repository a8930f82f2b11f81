// The teacher pool: every row scored and written by its own teacher only,
// the results back in row order, and each row's draws its own.
#include "opd/rollout/teacher_pool.h"

#include "opd/rollout/generator.h"
#include "opd/rollout/sequence_packing.h"
#include "support/test_support.h"
#include "support/tiny_lm.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace opd::rollout {
namespace {

using opd::testing::expect_error;

const std::vector<std::vector<int64_t>> kPoolPrompts = {{5, 9, 3}, {7}, {11, 2, 30, 4, 8}, {1, 1}, {40, 41, 42, 43}};
const std::vector<int64_t> kRowTeacher = {0, 1, 1, 0, 1};

TeacherPool two_teachers() {
  TeacherPool pool;
  pool.add({"teachers.code", "mem:a", opd::testing::tiny_lm(1, 0.1, 0.3), {}});
  pool.add({"teachers.math", "mem:b", opd::testing::tiny_lm(3, 0.1, 0.3), {}});
  return pool;
}

// Row b of `batch` under `model` alone, through the plain forward:
// log_softmax [T, V] in fp32.
at::Tensor row_logp(model::CausalLM& model, const RolloutBatch& batch, int64_t b) {
  at::NoGradGuard no_grad;
  auto logits = model->forward(batch.tokens.slice(0, b, b + 1), batch.position_ids.slice(0, b, b + 1),
                               batch.attention_mask.slice(0, b, b + 1));
  return at::log_softmax(logits[0].to(at::kFloat), -1);
}

TEST(TeacherPool, ScoresEachRowWithItsOwnTeacher) {
  auto pool = two_teachers();
  auto student = opd::testing::tiny_lm(2, 0.02, 0.3);
  GenerationConfig g;
  g.max_new_tokens = 6;
  g.seed = 7;
  const auto batch = generate(student, kPoolPrompts, g);
  ScoreRequest request;
  request.topk = 4;
  request.entropy = true;
  const auto scores = pool.score(batch, kRowTeacher, nullptr, request, /*micro_batch=*/2);
  const auto logits = pool.aligned_logits(batch, kRowTeacher, nullptr, 64);
  ASSERT_EQ(scores.logprobs.sizes(), (at::IntArrayRef{5, batch.seq_len() - 1}));

  double other_teacher_gap = 0;  // how far the other teacher's scores are: the routing must matter
  for (int64_t b = 0; b < batch.batch_size(); ++b) {
    SCOPED_TRACE("row " + std::to_string(b));
    const auto own = row_logp(pool[kRowTeacher[b]].model, batch, b);
    const auto other = row_logp(pool[1 - kRowTeacher[b]].model, batch, b);
    const int64_t real = batch.attention_mask[b].sum().item<int64_t>();
    for (int64_t t = 0; t + 1 < real; ++t) {
      const int64_t next = batch.tokens[b][t + 1].item<int64_t>();
      EXPECT_NEAR(scores.logprobs[b][t].item<float>(), own[t][next].item<float>(), 1e-5) << "t " << t;
      other_teacher_gap = std::max(other_teacher_gap, std::abs(double(own[t][next].item<float>()) -
                                                               double(other[t][next].item<float>())));
      const auto p = own[t].exp();
      EXPECT_NEAR(scores.entropy[b][t].item<float>(), -(p * own[t]).sum().item<float>(), 1e-4) << "t " << t;
      EXPECT_EQ(scores.topk_ids[b][t][0].item<int64_t>(), own[t].argmax().item<int64_t>()) << "t " << t;
      EXPECT_TRUE(at::allclose(at::log_softmax(logits[b][t], -1), own[t], 1e-5, 1e-5)) << "t " << t;
    }
  }
  EXPECT_GT(other_teacher_gap, 0.05) << "the two teachers score alike; the test would not see a routing error";

  // One teacher for every row is the single-teacher path: the same numbers.
  const std::vector<int64_t> all_first(5, 0);
  const auto one = pool.score(batch, all_first, nullptr, request, 5);
  const auto direct = score_tokens(pool[0].model, batch, request, 5);
  EXPECT_TRUE(at::equal(one.logprobs, direct.logprobs));
  expect_error([&] { pool.score(batch, {0, 1}, nullptr, request, 2); }, {"2 row teachers for 5 rows"});
  expect_error([&] { pool.score(batch, {0, 1, 2, 0, 0}, nullptr, request, 2); }, {"row 2 names teacher 2 of 2"});
}

TEST(TeacherPool, WritesEachRowWithItsTeacherAndTheRowsOwnDraws) {
  auto pool = two_teachers();
  const std::vector<int64_t> caps = {5, 3, 6, 2, 4};
  auto config = [&](const Teacher&) {
    GenerationConfig g;
    g.max_new_tokens = 6;
    g.row_max_new_tokens = caps;
    g.sampling.temperature = 1.0;
    g.seed = 11;
    return g;
  };
  const auto written = pool.generate(kPoolPrompts, kRowTeacher, config);
  ASSERT_EQ(written.ids.size(), kPoolPrompts.size());
  double total = 0;
  for (size_t b = 0; b < kPoolPrompts.size(); ++b) {
    SCOPED_TRACE("row " + std::to_string(b));
    // The row alone, through its own teacher, keyed as row b of the batch.
    auto alone = config(pool[kRowTeacher[b]]);
    alone.row_max_new_tokens = {caps[b]};
    alone.row_ids = {static_cast<int64_t>(b)};
    const auto ref = generate(pool[kRowTeacher[b]].model, {kPoolPrompts[b]}, alone);
    EXPECT_EQ(written.ids[b], response_ids(ref)[0]);
    const auto ref_lp = response_logprobs(ref)[0];
    ASSERT_EQ(written.logprobs[b].size(), ref_lp.size());
    for (size_t i = 0; i < ref_lp.size(); ++i) EXPECT_NEAR(written.logprobs[b][i], ref_lp[i], 1e-5);
    EXPECT_EQ(written.ended[b], static_cast<int64_t>(written.ids[b].size()) < caps[b]);
    total += double(written.ids[b].size());
  }
  EXPECT_EQ(written.tokens(), total);
}

}  // namespace
}  // namespace opd::rollout
