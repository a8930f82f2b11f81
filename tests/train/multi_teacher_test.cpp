// Multi-teacher distillation: each prompt's domain names its teacher, and a
// run routes dataset rows by domain (the pool itself: rollout/teacher_pool_test).
#include "opd/model/pretrained.h"
#include "opd/rollout/generator.h"
#include "opd/rollout/sequence_packing.h"
#include "opd/train/trainer.h"
#include "support/test_support.h"
#include "support/tiny_lm.h"
#include "train/smoke_setup.h"
#include "train/step_trajectories.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <fstream>

namespace opd::train {
namespace {

using opd::testing::expect_error;
using opd::testing::ScratchDir;

// A recipe with teachers by domain: code and math (and optionally a default).
TrainConfig domain_config(const ScratchDir& dir, bool default_teacher) {
  auto c = smoke_config(dir, 2);
  auto math_teacher = opd::testing::tiny_lm(3, 0.1, 0.3);
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
  const auto c = domain_config(dir, false);
  const auto r = StepTrajectories(c).write(0);
  ASSERT_EQ(r.row_teacher.size(), 8u);
  for (int64_t b = 0; b < 8; ++b) {
    const int64_t first = r.batch.tokens[b][0].item<int64_t>();
    // Teachers are ordered default first, then by domain: code = 0, math = 1.
    EXPECT_EQ(r.row_teacher[b], first == 1 ? 0 : 1) << "row " << b << " starts with " << first;
  }
  Trainer trainer(c);
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
  Metrics metrics;
  const auto r = StepTrajectories(c).write(0, &metrics);
  int64_t prefix_tokens = 0;
  for (int64_t b = 0; b < r.batch.batch_size(); ++b) {
    prefix_tokens += (r.batch.source[b] == static_cast<int8_t>(TokenSource::kTeacherPrefix)).sum().item<int64_t>();
  }
  EXPECT_GT(prefix_tokens, 0);
  EXPECT_TRUE(std::isfinite(Trainer(c).step(0).value("loss")));
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
  const auto r = StepTrajectories(c).write(0);
  for (int64_t b = 0; b < r.batch.batch_size(); ++b) {
    const int64_t first = r.batch.tokens[b][0].item<int64_t>();
    EXPECT_EQ(r.row_teacher[b], first == 1 ? 1 : first == 2 ? 2 : 0) << "row " << b;
  }
}

}  // namespace
}  // namespace opd::train
