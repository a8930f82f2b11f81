// Multi-teacher distillation: each prompt's domain names its teacher. The
// pool must score and write every row with that row's teacher only, and the
// trainer must route dataset rows by domain.
#include "opd/model/pretrained.h"
#include "opd/model/tiny_model.h"
#include "opd/rollout/generator.h"
#include "opd/rollout/sequence_packing.h"
#include "opd/train/teacher_pool.h"
#include "opd/train/trainer.h"
#include "support/test_support.h"
#include "train/smoke_setup.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <fstream>

namespace opd::train {
namespace {

using opd::testing::expect_error;
using opd::testing::ScratchDir;

model::CausalLM tiny(uint64_t seed, double init_std) {
  model::TinyModelSpec spec;
  spec.vocab_size = 64;
  spec.seed = seed;
  spec.init_std = init_std;
  spec.embed_std = 0.3;
  return model::make_tiny_model(spec);
}

const std::vector<std::vector<int64_t>> kPrompts = {{5, 9, 3}, {7}, {11, 2, 30, 4, 8}, {1, 1}, {40, 41, 42, 43}};
const std::vector<int64_t> kRowTeacher = {0, 1, 1, 0, 1};

TeacherPool two_teachers() {
  TeacherPool pool;
  pool.add({"teachers.code", "mem:a", tiny(1, 0.1), {}});
  pool.add({"teachers.math", "mem:b", tiny(3, 0.1), {}});
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
  auto student = tiny(2, 0.02);
  rollout::GenerationConfig g;
  g.max_new_tokens = 6;
  g.seed = 7;
  const auto batch = rollout::generate(student, kPrompts, g);
  rollout::ScoreRequest request;
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
  const auto direct = rollout::score_tokens(pool[0].model, batch, request, 5);
  EXPECT_TRUE(at::equal(one.logprobs, direct.logprobs));
  expect_error([&] { pool.score(batch, {0, 1}, nullptr, request, 2); }, {"2 row teachers for 5 rows"});
  expect_error([&] { pool.score(batch, {0, 1, 2, 0, 0}, nullptr, request, 2); }, {"row 2 names teacher 2 of 2"});
}

TEST(TeacherPool, WritesEachRowWithItsTeacherAndTheRowsOwnDraws) {
  auto pool = two_teachers();
  const std::vector<int64_t> caps = {5, 3, 6, 2, 4};
  auto config = [&](const Teacher&) {
    rollout::GenerationConfig g;
    g.max_new_tokens = 6;
    g.row_max_new_tokens = caps;
    g.sampling.temperature = 1.0;
    g.seed = 11;
    return g;
  };
  const auto written = pool.generate(kPrompts, kRowTeacher, config);
  ASSERT_EQ(written.ids.size(), kPrompts.size());
  double total = 0;
  for (size_t b = 0; b < kPrompts.size(); ++b) {
    SCOPED_TRACE("row " + std::to_string(b));
    // The row alone, through its own teacher, keyed as row b of the batch.
    auto alone = config(pool[kRowTeacher[b]]);
    alone.row_max_new_tokens = {caps[b]};
    alone.row_ids = {static_cast<int64_t>(b)};
    const auto ref = rollout::generate(pool[kRowTeacher[b]].model, {kPrompts[b]}, alone);
    EXPECT_EQ(written.ids[b], rollout::response_ids(ref)[0]);
    const auto ref_lp = rollout::response_logprobs(ref)[0];
    ASSERT_EQ(written.logprobs[b].size(), ref_lp.size());
    for (size_t i = 0; i < ref_lp.size(); ++i) EXPECT_NEAR(written.logprobs[b][i], ref_lp[i], 1e-5);
    EXPECT_EQ(written.ended[b], static_cast<int64_t>(written.ids[b].size()) < caps[b]);
    total += double(written.ids[b].size());
  }
  EXPECT_EQ(written.tokens(), total);
}

// A recipe with teachers by domain: code and math (and optionally a default).
TrainConfig domain_config(const ScratchDir& dir, bool default_teacher) {
  auto c = smoke_config(dir, 2);
  auto math_teacher = tiny(3, 0.1);
  model::save_pretrained(math_teacher, dir / "math_teacher");
  c.teachers["code"] = c.teacher;
  c.teachers["math"] = c.teacher;
  c.teachers["math"].path = dir / "math_teacher";
  if (!default_teacher) c.teacher = {};
  // Code prompts start with id 1, math prompts with id 2.
  std::ofstream(dir / "domains.jsonl") << "{\"prompt_ids\": [1, 5, 9], \"domain\": \"code\"}\n"
                                          "{\"prompt_ids\": [2, 7, 7, 3], \"domain\": \"math\"}\n"
                                          "{\"prompt_ids\": [1, 30], \"domain\": \"code\"}\n"
                                          "{\"prompt_ids\": [2, 8], \"domain\": \"math\"}\n";
  c.data.train_path = dir / "domains.jsonl";
  c.data.prompts_per_step = 4;
  c.data.samples_per_prompt = 2;
  return c;
}

TEST(MultiTeacher, TrainerRoutesRowsByDomain) {
  ScratchDir dir("opd-multi-teacher");
  Trainer trainer(domain_config(dir, false));
  const auto r = trainer.rollout(0);
  ASSERT_EQ(r.row_teacher.size(), 8u);
  for (int64_t b = 0; b < 8; ++b) {
    const int64_t first = r.batch.tokens[b][0].item<int64_t>();
    // Teachers are ordered default first, then by domain: code = 0, math = 1.
    EXPECT_EQ(r.row_teacher[b], first == 1 ? 0 : 1) << "row " << b << " starts with " << first;
  }
  const auto m = trainer.step(0);
  EXPECT_TRUE(std::isfinite(m.value("loss")));
  EXPECT_TRUE(std::isfinite(trainer.evaluate().value("kl_k1")));
}

TEST(MultiTeacher, TeacherPrefixIsWrittenByEachRowsTeacher) {
  ScratchDir dir("opd-multi-teacher-prefix");
  auto c = domain_config(dir, false);
  c.objective = default_objective_config(ObjectiveKind::kTropd);
  c.rollout.teacher_prefix_length = 4;
  c.rollout.teacher_prefix_anneal_steps = 10;
  Trainer trainer(c);
  Metrics metrics;
  const auto r = trainer.rollout(0, &metrics);
  int64_t prefix_tokens = 0;
  for (int64_t b = 0; b < r.batch.batch_size(); ++b) {
    prefix_tokens += (r.batch.source[b] == static_cast<int8_t>(TokenSource::kTeacherPrefix)).sum().item<int64_t>();
  }
  EXPECT_GT(prefix_tokens, 0);
  EXPECT_TRUE(std::isfinite(trainer.step(0).value("loss")));
}

TEST(MultiTeacher, EveryDomainNeedsATeacher) {
  ScratchDir dir("opd-multi-teacher-missing");
  auto c = domain_config(dir, false);
  std::ofstream(dir / "domains.jsonl", std::ios::app) << "{\"prompt_ids\": [3, 4], \"domain\": \"poetry\"}\n";
  expect_error([&] { Trainer t(c); },
               {"domains.jsonl:5", "domain 'poetry' has no teacher", "teachers.poetry", "teachers.code"});
  // A default teacher takes the domains not listed.
  c = domain_config(dir, true);
  std::ofstream(dir / "domains.jsonl", std::ios::app) << "{\"prompt_ids\": [3, 4], \"domain\": \"poetry\"}\n";
  c.data.prompts_per_step = 5;
  c.data.shuffle = false;
  Trainer trainer(c);
  const auto r = trainer.rollout(0);
  for (int64_t b = 0; b < r.batch.batch_size(); ++b) {
    const int64_t first = r.batch.tokens[b][0].item<int64_t>();
    EXPECT_EQ(r.row_teacher[b], first == 1 ? 1 : first == 2 ? 2 : 0) << "row " << b;
  }
}

}  // namespace
}  // namespace opd::train
