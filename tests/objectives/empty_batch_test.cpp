// Micro-batches an objective has nothing to train on (all padding, or no
// token of the source it trains) must give a zero loss, a zero gradient and
// metrics that still exist, never NaN or an exception: with micro-batching
// and teacher prefixes such micro-batches happen in every run.
#include "objectives/objective_reference.h"

#include "opd/objectives/registry.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace opd::objtest {
namespace {

const ObjectiveKind kAllKinds[] = {
    ObjectiveKind::kSft,     ObjectiveKind::kOpd,        ObjectiveKind::kGopd, ObjectiveKind::kFkl,
    ObjectiveKind::kJsd,     ObjectiveKind::kEntropyOpd, ObjectiveKind::kEopd, ObjectiveKind::kReopold,
    ObjectiveKind::kMask,    ObjectiveKind::kTropd,      ObjectiveKind::kTrd,  ObjectiveKind::kFklFull,
    ObjectiveKind::kRklFull, ObjectiveKind::kSum};

ObjectiveConfig small_config(ObjectiveKind kind) {
  if (kind == ObjectiveKind::kSum) {
    auto sum = default_objective_config(ObjectiveKind::kSum);
    WeightedObjective a, b;
    a.weight = 0.5;
    a.objective = default_objective_config(ObjectiveKind::kOpd);
    b.weight = 2.0;
    b.objective = config_of(ObjectiveKind::kFkl, [](auto& k) { k.top_k = 8; });
    sum.terms = {a, b};
    return sum;
  }
  return config_of(kind, [](auto& k) { k.top_k = 8; });
}

void expect_nothing_trained(const RandomCase& c, const std::string& what) {
  for (auto kind : kAllKinds) {
    SCOPED_TRACE(what + ": " + objective_name(kind));
    RunResult got;
    EXPECT_EQ(opd::testing::error_message([&] { got = run(small_config(kind), c); }), "<no exception>");
    if (!got.grad.defined()) continue;
    EXPECT_EQ(got.loss, 0.0);
    EXPECT_TRUE(at::isfinite(got.grad).all().item<bool>());
    EXPECT_EQ(got.grad.abs().max().item<double>(), 0.0);
    EXPECT_FALSE(got.metrics.entries().empty());
  }
}

TEST(EmptyMicroBatch, AllPaddingTrainsNothing) {
  auto c = make_case(at::kFloat, 1);
  c.in.loss_mask = at::zeros_like(c.in.loss_mask);
  c.in.token_weight = at::zeros_like(c.in.token_weight);
  expect_nothing_trained(c, "all padding");
}

// Only source-0 tokens: nothing any objective trains on.
TEST(EmptyMicroBatch, PromptOnlyTrainsNothing) {
  auto c = make_case(at::kFloat, 2);
  c.in.source = at::zeros_like(c.in.source);
  expect_nothing_trained(c, "prompt only");
}

// A micro-batch of teacher-prefix tokens only (TrOPD's guidance early in
// training): student-token objectives give 0 there, tropd and sft train it.
TEST(EmptyMicroBatch, TeacherPrefixOnly) {
  auto c = make_case(at::kFloat, 3);
  c.in.source = at::full_like(c.in.source, 1);
  for (auto kind :
       {ObjectiveKind::kOpd, ObjectiveKind::kEntropyOpd, ObjectiveKind::kFkl, ObjectiveKind::kJsd,
        ObjectiveKind::kReopold, ObjectiveKind::kMask, ObjectiveKind::kEopd, ObjectiveKind::kFklFull}) {
    SCOPED_TRACE(objective_name(kind));
    auto got = run(small_config(kind), c);
    EXPECT_EQ(got.loss, 0.0);
    EXPECT_EQ(got.grad.abs().max().item<double>(), 0.0);
  }
  auto tropd = config_of(ObjectiveKind::kTropd, [](auto& k) {
    k.top_k = 8;
    k.prefix_beta = 0.1;
  });
  expect_matches_reference(
      tropd, c,
      [](const Ref& r) {
        return Term{-0.1 * r.s * r.prefix, r.prefix > 0};
      },
      at::kFloat, "tropd on prefix tokens only");
  expect_matches_reference(
      small_config(ObjectiveKind::kSft), c,
      [](const Ref& r) {
        return Term{-r.s * r.prefix, r.prefix > 0};
      },
      at::kFloat, "sft on prefix tokens only");
}

}  // namespace
}  // namespace opd::objtest
