// The policy-gradient objectives (opd, gopd, entropy_opd, reopold, mask)
// against the double-precision reference of DESIGN §4.
#include "objectives/objective_reference.h"

#include "opd/objectives/registry.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <cmath>

namespace opd::objtest {
namespace {

class PgObjectivesTest : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  at::ScalarType dtype() const { return GetParam(); }
  // Seed 1 with token-mean weights, seed 2 with sequence-mean weights.
  RandomCase case_for(uint64_t seed, CaseOptions o = {}) {
    o.sequence_weights = seed % 2 == 0;
    return make_case(dtype(), seed, o);
  }
};

// More student tokens for the selection tests.
CaseOptions larger() {
  CaseOptions o;
  o.B = 4;
  o.L = 10;
  return o;
}

Term opd_term(const Ref& r, double lambda) {
  return {pg(r, opd_advantage(r, lambda)) * r.student, r.student > 0};
}

TEST_P(PgObjectivesTest, OpdMatchesReference) {
  for (uint64_t seed : {1, 2, 3}) {
    auto c = case_for(seed);
    expect_matches_reference(
        config_of(ObjectiveKind::kOpd), c, [](const Ref& r) { return opd_term(r, 1.0); }, dtype(),
        "opd seed " + std::to_string(seed));
  }
}

TEST_P(PgObjectivesTest, OpdIgnoresTheReferenceModel) {
  auto c = case_for(5);
  auto with = run(config_of(ObjectiveKind::kOpd), c);
  c.in.reference_logprobs = at::Tensor();
  auto without = run(config_of(ObjectiveKind::kOpd), c);
  EXPECT_EQ(with.loss, without.loss);
  EXPECT_TRUE(with.grad.equal(without.grad));
}

TEST_P(PgObjectivesTest, OpdReportsKlEstimatesAndSourceCounts) {
  auto c = case_for(4);
  auto got = run(config_of(ObjectiveKind::kOpd), c);
  Ref r = make_ref(c);
  auto log_ratio = r.s.detach() - r.tau;  // s - tau
  EXPECT_NEAR(got.metrics.value("kl_k1"), masked_mean(log_ratio, r.student), 1e-5);
  EXPECT_NEAR(got.metrics.value("kl_k3"), masked_mean((-log_ratio).exp() - 1 + log_ratio, r.student),
              1e-4 * std::abs(masked_mean((-log_ratio).exp() - 1 + log_ratio, r.student)) + 1e-5);
  EXPECT_NEAR(got.metrics.value("student_logprob"), masked_mean(r.s.detach(), r.student), 1e-5);
  EXPECT_NEAR(got.metrics.value("teacher_logprob"), masked_mean(r.tau, r.student), 1e-5);
  EXPECT_NEAR(got.metrics.value("student_entropy"), masked_mean(r.student_entropy, r.student), 1e-5);
  EXPECT_DOUBLE_EQ(got.metrics.value("tokens_student"), count(r.student));
  EXPECT_DOUBLE_EQ(got.metrics.value("tokens_teacher_prefix"), count(r.prefix));
  EXPECT_DOUBLE_EQ(got.metrics.value("tokens_refined"), count(r.refined));
}

TEST_P(PgObjectivesTest, GopdMatchesReference) {
  EXPECT_DOUBLE_EQ(default_objective_config(ObjectiveKind::kGopd).lambda, 1.25);
  for (double lambda : {1.25, 0.6, 2.0}) {
    auto c = case_for(lambda > 1.5 ? 2 : 1);
    expect_matches_reference(
        config_of(ObjectiveKind::kGopd, [&](auto& k) { k.lambda = lambda; }), c,
        [&](const Ref& r) { return opd_term(r, lambda); }, dtype(), "gopd lambda " + std::to_string(lambda));
  }
}

TEST_P(PgObjectivesTest, GopdReportsRewardCorrection) {
  auto c = case_for(3);
  auto got = run(config_of(ObjectiveKind::kGopd), c);
  Ref r = make_ref(c);
  EXPECT_NEAR(got.metrics.value("reward_correction"), masked_mean(r.tau - r.r, r.student), 1e-5);
}

TEST_P(PgObjectivesTest, GopdWithLambdaOneEqualsOpd) {
  for (uint64_t seed : {1, 2}) {
    auto c = case_for(seed);
    auto opd = run(config_of(ObjectiveKind::kOpd), c);
    auto gopd = run(config_of(ObjectiveKind::kGopd, [](auto& k) { k.lambda = 1.0; }), c);
    EXPECT_NEAR(gopd.loss, opd.loss, 1e-6 * std::abs(opd.loss));
    EXPECT_LT(opd::testing::rel_err(gopd.grad, opd.grad), same_tol(dtype()));
    // lambda = 1 never needs r: it may be missing.
    c.in.reference_logprobs = at::Tensor();
    auto without_r = run(config_of(ObjectiveKind::kGopd, [](auto& k) { k.lambda = 1.0; }), c);
    EXPECT_NEAR(without_r.loss, opd.loss, 1e-6 * std::abs(opd.loss));
  }
}

TEST_P(PgObjectivesTest, EntropyOpdTrainsTheTopRhoStudentEntropyTokens) {
  const double rho = default_objective_config(ObjectiveKind::kEntropyOpd).entropy_rho;
  EXPECT_DOUBLE_EQ(rho, 0.2);
  for (uint64_t seed : {1, 2, 3}) {
    auto c = case_for(seed, larger());
    avoid_integral_cut(c, rho);
    auto fn = [&](const Ref& r) {
      auto selected = top_entropy(r, r.student, rho);
      return Term{pg(r, r.tau - r.s.detach()) * selected.to(at::kDouble), selected};
    };
    expect_matches_reference(config_of(ObjectiveKind::kEntropyOpd), c, fn, dtype(),
                             "entropy_opd seed " + std::to_string(seed));
    auto got = run(config_of(ObjectiveKind::kEntropyOpd), c);
    const double n = count(source_tokens(c, 2));
    EXPECT_NEAR(got.metrics.value("selected_fraction"), std::ceil(rho * n) / n, 1e-12);
  }
}

// Entropy selection composes with any PG objective: opd + entropy_rho is entropy_opd,
// and with lambda it is G-OPD on the selected tokens.
TEST_P(PgObjectivesTest, EntropySelectionComposesWithLambda) {
  const double rho = 0.5, lambda = 1.25;
  auto c = case_for(6, larger());
  avoid_integral_cut(c, rho);
  auto config = config_of(ObjectiveKind::kOpd, [&](auto& k) {
    k.entropy_rho = rho;
    k.lambda = lambda;
  });
  auto fn = [&](const Ref& r) {
    auto selected = top_entropy(r, r.student, rho);
    return Term{pg(r, opd_advantage(r, lambda)) * selected.to(at::kDouble), selected};
  };
  expect_matches_reference(config, c, fn, dtype(), "opd + entropy_rho 0.5 + lambda 1.25");
  auto entropy_opd = config_of(ObjectiveKind::kEntropyOpd, [&](auto& k) {
    k.entropy_rho = rho;
    k.lambda = lambda;
  });
  auto a = run(config, c), b = run(entropy_opd, c);
  EXPECT_NEAR(a.loss, b.loss, 1e-6 * std::abs(a.loss));
  EXPECT_LT(opd::testing::rel_err(a.grad, b.grad), same_tol(dtype()));
}

Term reopold_term(const Ref& r, double lambda, double floor, const at::Tensor& selected) {
  auto advantage = at::clamp_min(opd_advantage(r, lambda), floor);
  auto m = selected.to(at::kDouble);
  return {pg(r, advantage) * m, selected.to(at::kBool)};
}

TEST_P(PgObjectivesTest, ReopoldFloorsTheAdvantage) {
  const double floor = default_objective_config(ObjectiveKind::kReopold).reward_floor;
  EXPECT_NEAR(floor, -1.6, 1e-12);  // about log(0.17 / 0.83)
  for (uint64_t seed : {1, 2}) {
    auto c = case_for(seed);
    Ref r = make_ref(c);
    auto log_ratio = r.tau - r.s.detach();
    auto floored = (log_ratio < floor).to(at::kDouble) * r.student;
    // The case must exercise both sides of the floor.
    ASSERT_GT(count(floored), 0);
    ASSERT_LT(count(floored), count(r.student));
    expect_matches_reference(
        config_of(ObjectiveKind::kReopold), c,
        [&](const Ref& r) { return reopold_term(r, 1.0, floor, r.student > 0); }, dtype(),
        "reopold seed " + std::to_string(seed));
    auto got = run(config_of(ObjectiveKind::kReopold), c);
    EXPECT_NEAR(got.metrics.value("clipped_fraction"), count(floored) / count(r.student), 1e-12);
  }
}

TEST_P(PgObjectivesTest, ReopoldFloorAppliesToTheGopdAdvantage) {
  auto c = case_for(3);
  const double floor = -0.9, lambda = 1.25;
  auto config = config_of(ObjectiveKind::kReopold, [&](auto& k) {
    k.reward_floor = floor;
    k.lambda = lambda;
  });
  expect_matches_reference(
      config, c, [&](const Ref& r) { return reopold_term(r, lambda, floor, r.student > 0); }, dtype(),
      "reopold lambda 1.25 floor -0.9");
}

TEST_P(PgObjectivesTest, ReopoldTwoStageSelectsFromSwitchStep) {
  const double rho = 0.3;
  const int64_t switch_step = 5;
  auto config = config_of(ObjectiveKind::kReopold, [&](auto& k) {
    k.entropy_rho = rho;
    k.switch_step = switch_step;
  });
  auto c = case_for(1, larger());
  avoid_integral_cut(c, rho);
  for (int64_t step : {0, 4, 5, 9}) {
    c.in.step = step;
    const bool selecting = step >= switch_step;
    auto fn = [&](const Ref& r) {
      auto selected = selecting ? top_entropy(r, r.student, rho) : r.student > 0;
      return reopold_term(r, 1.0, config.reward_floor, selected);
    };
    expect_matches_reference(config, c, fn, dtype(), "reopold 2-stage step " + std::to_string(step));
    auto got = run(config, c);
    Ref r = make_ref(c);
    auto selected = fn(r).trained;
    const double n = count(r.student);
    if (selecting) {
      EXPECT_NEAR(got.metrics.value("selected_fraction"), std::ceil(rho * n) / n, 1e-12) << step;
    }
    // clipped_fraction is over the tokens that train.
    auto floored = (r.tau - r.s.detach() < config.reward_floor) & selected;
    EXPECT_NEAR(got.metrics.value("clipped_fraction"), count(floored) / count(selected), 1e-12)
        << "step " << step;
  }
}

TEST_P(PgObjectivesTest, MaskZeroesTheAdvantageBelowTheThreshold) {
  const double threshold = default_objective_config(ObjectiveKind::kMask).mask_threshold;
  EXPECT_NEAR(threshold, -1.6, 1e-12);
  for (uint64_t seed : {1, 2}) {
    auto c = case_for(seed);
    Ref r = make_ref(c);
    auto log_ratio = r.tau - r.s.detach();
    auto kept = (log_ratio > threshold) & (r.student > 0);
    ASSERT_GT(count(kept), 0);
    ASSERT_LT(count(kept), count(r.student));
    auto fn = [&](const Ref& r) {
      auto lr = r.tau - r.s.detach();
      auto keep = (lr > threshold) & (r.student > 0);
      return Term{pg(r, lr * keep.to(at::kDouble)), keep};
    };
    expect_matches_reference(config_of(ObjectiveKind::kMask), c, fn, dtype(),
                             "mask seed " + std::to_string(seed));
    auto got = run(config_of(ObjectiveKind::kMask), c);
    EXPECT_NEAR(got.metrics.value("masked_fraction"), 1.0 - count(kept) / count(r.student), 1e-12);
  }
}

TEST_P(PgObjectivesTest, MaskWithLambdaMasksTheGopdAdvantage) {
  const double threshold = -1.0, lambda = 1.5;
  auto c = case_for(7);
  auto config = config_of(ObjectiveKind::kMask, [&](auto& k) {
    k.mask_threshold = threshold;
    k.lambda = lambda;
  });
  auto fn = [&](const Ref& r) {
    auto keep = (r.tau - r.s.detach() > threshold) & (r.student > 0);
    return Term{pg(r, opd_advantage(r, lambda) * keep.to(at::kDouble)), keep};
  };
  expect_matches_reference(config, c, fn, dtype(), "mask lambda 1.5");
}

INSTANTIATE_TEST_SUITE_P(Dtypes, PgObjectivesTest, ::testing::Values(at::kFloat, at::kBFloat16), dtype_name);

}  // namespace
}  // namespace opd::objtest
