// sum: loss = sum_i w_i loss_i, its gradient likewise, metrics under "<name>.".
#include "objectives/objective_reference.h"

#include "opd/objectives/registry.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace opd::objtest {
namespace {


class WeightedSumTest : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  at::ScalarType dtype() const { return GetParam(); }
  RandomCase case_for(uint64_t seed) {
    CaseOptions o;
    o.top_k = kTopK;
    o.sequence_weights = seed % 2 == 0;
    return make_case(dtype(), seed, o);
  }
};

WeightedObjective term(double weight, ObjectiveConfig config) {
  WeightedObjective w;
  w.weight = weight;
  w.objective = std::move(config);
  return w;
}

ObjectiveConfig opd_cfg() { return config_of(ObjectiveKind::kOpd); }
ObjectiveConfig fkl_cfg() {
  return config_of(ObjectiveKind::kFkl, [](auto& k) { k.top_k = kTopK; });
}
ObjectiveConfig gopd_cfg() {
  return config_of(ObjectiveKind::kGopd, [](auto& k) { k.lambda = 1.25; });
}

ObjectiveConfig sum_of(std::vector<WeightedObjective> terms) {
  return config_of(ObjectiveKind::kSum, [&](auto& k) { k.terms = terms; });
}

ObjectiveConfig three_terms() {
  return sum_of({term(0.7, opd_cfg()), term(0.3, fkl_cfg()), term(0.5, gopd_cfg())});
}

TEST_P(WeightedSumTest, MatchesTheWeightedReference) {
  for (uint64_t seed : {1, 2}) {
    auto c = case_for(seed);
    auto fn = [](const Ref& r) {
      auto l =
          0.7 * pg(r, opd_advantage(r, 1.0)) + 0.3 * topk_fkl(r, false) + 0.5 * pg(r, opd_advantage(r, 1.25));
      return Term{l * r.student, r.student > 0};
    };
    expect_matches_reference(three_terms(), c, fn, dtype(), "0.7 opd + 0.3 fkl + 0.5 gopd");
  }
}

TEST_P(WeightedSumTest, IsTheWeightedSumOfItsTerms) {
  auto c = case_for(3);
  auto sum = run(three_terms(), c);
  auto a = run(opd_cfg(), c), b = run(fkl_cfg(), c), g = run(gopd_cfg(), c);
  const double expected = 0.7 * a.loss + 0.3 * b.loss + 0.5 * g.loss;
  EXPECT_NEAR(sum.loss, expected, 1e-5 * std::abs(expected));
  EXPECT_LT(opd::testing::rel_err(sum.grad, 0.7 * a.grad + 0.3 * b.grad + 0.5 * g.grad), same_tol(dtype()));
}

TEST_P(WeightedSumTest, MetricsArePrefixedWithTheTermName) {
  auto c = case_for(4);
  auto sum = run(three_terms(), c);
  std::pair<const char*, RunResult> terms[] = {
      {"opd", run(opd_cfg(), c)}, {"fkl", run(fkl_cfg(), c)}, {"gopd", run(gopd_cfg(), c)}};
  for (const auto& [name, alone] : terms) {
    ASSERT_FALSE(alone.metrics.entries().empty()) << name;
    for (const auto& [key, entry] : alone.metrics.entries()) {
      const std::string prefixed = std::string(name) + "." + key;
      ASSERT_TRUE(sum.metrics.has(prefixed)) << prefixed;
      EXPECT_NEAR(sum.metrics.value(prefixed), alone.metrics.value(key),
                  1e-9 + 1e-9 * std::abs(alone.metrics.value(key)))
          << prefixed;
    }
  }
  EXPECT_TRUE(sum.metrics.has("opd.kl_k1"));
  EXPECT_TRUE(sum.metrics.has("fkl.topk_mass"));
}

TEST_P(WeightedSumTest, TermsSharingANameGetDistinctPrefixes) {
  auto c = case_for(5);
  auto config = sum_of(
      {term(1.0, opd_cfg()), term(2.0, config_of(ObjectiveKind::kOpd, [](auto& k) { k.lambda = 1.5; }))});
  auto sum = run(config, c);
  std::set<std::string> prefixes;
  for (const auto& [key, entry] : sum.metrics.entries()) {
    const std::string suffix = ".kl_k1";
    if (key.size() > suffix.size() && key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0) {
      prefixes.insert(key.substr(0, key.size() - suffix.size()));
    }
  }
  EXPECT_EQ(prefixes.size(), 2u);
  for (const auto& p : prefixes) EXPECT_EQ(p.rfind("opd#", 0), 0u) << p;
  auto a = run(opd_cfg(), c);
  auto b = run(config_of(ObjectiveKind::kOpd, [](auto& k) { k.lambda = 1.5; }), c);
  EXPECT_NEAR(sum.loss, a.loss + 2.0 * b.loss, 1e-5 * std::abs(a.loss + 2.0 * b.loss));
}

TEST(WeightedSumNeeds, AreTheUnionOfTheTerms) {
  auto needs = make_objective(three_terms())->needs();
  EXPECT_TRUE(needs.teacher_logprobs);
  EXPECT_EQ(needs.teacher_topk, kTopK);
  EXPECT_TRUE(needs.reference_logprobs);
  EXPECT_FALSE(needs.teacher_logits);
  EXPECT_EQ(needs.trajectory, Trajectory::kStudent);
  EXPECT_EQ(make_objective(sum_of({term(1.0, opd_cfg())}))->name(), "sum");
  EXPECT_FALSE(make_objective(sum_of({term(1.0, opd_cfg())}))->needs().reference_logprobs);
}

TEST(WeightedSumNeeds, MergeIsAUnionAndRejectsMixedTrajectories) {
  ObjectiveNeeds a, b;
  a.teacher_logprobs = true;
  a.teacher_topk = 8;
  b.teacher_topk = 16;
  b.teacher_entropy = true;
  auto m = a.merged(b);
  EXPECT_TRUE(m.teacher_logprobs);
  EXPECT_TRUE(m.teacher_entropy);
  EXPECT_FALSE(m.teacher_logits);
  EXPECT_EQ(m.teacher_topk, 16);
  ObjectiveNeeds refined;
  refined.trajectory = Trajectory::kRefined;
  EXPECT_NE(opd::testing::error_message([&] { a.merged(refined); }), "<no exception>");
  // A sum of terms trained on different trajectories is an error, at the
  // latest when its needs are asked for.
  EXPECT_NE(opd::testing::error_message([&] {
              make_objective(
                  sum_of({term(1.0, opd_cfg()), term(1.0, default_objective_config(ObjectiveKind::kTrd))}))
                  ->needs();
            }),
            "<no exception>");
}

INSTANTIATE_TEST_SUITE_P(Dtypes, WeightedSumTest, ::testing::Values(at::kFloat, at::kBFloat16), dtype_name);

}  // namespace
}  // namespace opd::objtest
