// TrOPD (Table 2): the Bernoulli trust region, each outlier variant, the
// teacher-prefix term, and the trust mask's independence of micro-batching.
#include "objectives/objective_reference.h"

#include "opd/objectives/registry.h"
#include "opd/ops/trust_mask.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace opd::objtest {
namespace {


class TropdTest : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  at::ScalarType dtype() const { return GetParam(); }
  RandomCase case_for(uint64_t seed) {
    CaseOptions o;
    o.top_k = kTopK;
    o.sequence_weights = seed % 2 == 0;
    o.trust_seed = 1000 + seed;
    // A teacher near the student: many tokens with trust probability well
    // inside (0, 1), so the Bernoulli draws decide the split.
    o.teacher_noise = 1.5;
    return make_case(dtype(), seed, o);
  }
};

const char* variant_name(OutlierVariant v) {
  switch (v) {
    case OutlierVariant::kFkl:
      return "fkl";
    case OutlierVariant::kMask:
      return "mask";
    case OutlierVariant::kClip:
      return "clip";
  }
  return "?";
}

ObjectiveConfig tropd_config(OutlierVariant v, double prefix_beta, double lambda = 1.0) {
  return config_of(ObjectiveKind::kTropd, [&](auto& k) {
    k.outlier = v;
    k.top_k = kTopK;
    k.prefix_beta = prefix_beta;
    k.lambda = lambda;
  });
}

// Table 2, written out: trusted student tokens get the PG surrogate, outliers
// the variant's term, teacher-prefix tokens -prefix_beta * s.
Term tropd_term(const Ref& r, OutlierVariant v, double prefix_beta, double lambda, double floor) {
  auto student = r.student > 0;
  auto m = trust(r);
  auto trusted = m & student;
  auto outlier = (~m) & student;
  auto advantage = opd_advantage(r, lambda);
  at::Tensor l = pg(r, advantage) * trusted.to(at::kDouble);
  at::Tensor trained = trusted;
  switch (v) {
    case OutlierVariant::kFkl:
      l = l + topk_fkl(r, /*renormalize=*/false) * outlier.to(at::kDouble);
      trained = trained | outlier;
      break;
    case OutlierVariant::kMask:
      break;
    case OutlierVariant::kClip:
      l = l + pg(r, at::clamp_min(advantage, floor)) * outlier.to(at::kDouble);
      trained = trained | outlier;
      break;
  }
  l = l - prefix_beta * r.s * r.prefix;
  if (prefix_beta != 0) trained = trained | (r.prefix > 0);
  return {l, trained};
}

TEST(TropdDefaults, FollowThePaper) {
  auto config = default_objective_config(ObjectiveKind::kTropd);
  EXPECT_EQ(config.outlier, OutlierVariant::kFkl);
  EXPECT_DOUBLE_EQ(config.prefix_beta, 0.001);
  EXPECT_NEAR(config.reward_floor, -1.6, 1e-12);
  auto needs = make_objective(tropd_config(OutlierVariant::kFkl, 0.001))->needs();
  EXPECT_TRUE(needs.teacher_logprobs);
  EXPECT_EQ(needs.teacher_topk, kTopK);
  EXPECT_EQ(needs.trajectory, Trajectory::kStudent);
}

TEST_P(TropdTest, EveryVariantMatchesReference) {
  for (auto v : {OutlierVariant::kFkl, OutlierVariant::kMask, OutlierVariant::kClip}) {
    for (uint64_t seed : {1, 2}) {
      auto c = case_for(seed);
      Ref r = make_ref(c);
      auto trusted = trust(r) & (r.student > 0);
      // The case must hold trusted tokens and outliers, and tokens whose
      // draw is not a foregone conclusion.
      ASSERT_GT(count(trusted), 0);
      ASSERT_LT(count(trusted), count(r.student));
      auto p = at::clamp_max((r.tau - r.s.detach()).exp(), 1.0);
      ASSERT_GE(count((p > 0.1) & (p < 0.9) & (r.student > 0)), 3);
      // ... and outliers below the clip floor.
      ASSERT_GT(count((r.tau - r.s.detach() < -1.6) & (r.student > 0)), 0);
      for (double prefix_beta : {0.001, 0.25}) {
        auto config = tropd_config(v, prefix_beta);
        expect_matches_reference(
            config, c, [&](const Ref& r) { return tropd_term(r, v, prefix_beta, 1.0, config.reward_floor); },
            dtype(),
            std::string("tropd ") + variant_name(v) + " seed " + std::to_string(seed) + " prefix_beta " +
                std::to_string(prefix_beta));
      }
    }
  }
}

TEST_P(TropdTest, TrustedAdvantageTakesLambdaAndTheClipFloor) {
  auto c = case_for(3);
  const double lambda = 1.25, floor = -0.7;
  auto config = tropd_config(OutlierVariant::kClip, 0.1, lambda);
  config.reward_floor = floor;
  expect_matches_reference(
      config, c, [&](const Ref& r) { return tropd_term(r, OutlierVariant::kClip, 0.1, lambda, floor); },
      dtype(), "tropd clip lambda 1.25 floor -0.7");
}

// With prefix_beta = 0 and variant mask only trusted student tokens train, so
// the tokens with gradient are exactly ops::trust_mask's draws.
TEST_P(TropdTest, TrustedSetIsOpsTrustMask) {
  for (uint64_t seed : {1, 2, 3}) {
    auto c = case_for(seed);
    for (int64_t step : {0, 7, 8}) {
      c.in.step = step;
      auto got = run(tropd_config(OutlierVariant::kMask, 0.0), c);
      Ref r = make_ref(c);
      auto expected = trust(r) & (r.student > 0);
      auto has_grad = got.grad.abs().amax(-1) > 0;
      EXPECT_TRUE(has_grad.equal(expected)) << "seed " << seed << " step " << step << "\n"
                                            << has_grad << "\n"
                                            << expected;
    }
  }
}

TEST_P(TropdTest, TrustMaskDependsOnSeedAndStepOnly) {
  auto c = case_for(1);
  auto config = tropd_config(OutlierVariant::kFkl, 0.001);
  auto a = run(config, c), b = run(config, c);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_TRUE(a.grad.equal(b.grad));
  // Another step draws another mask: find one that differs on this case, and
  // the objective follows it there.
  Ref r = make_ref(c);
  auto mask7 = trust(r) & (r.student > 0);
  int64_t other = -1;
  for (int64_t step = 8; step < 40 && other < 0; ++step) {
    auto cs = c;
    cs.in.step = step;
    Ref rs = make_ref(cs);
    if (!(trust(rs) & (rs.student > 0)).equal(mask7)) other = step;
  }
  ASSERT_GE(other, 0) << "no step in [8, 40) changes the mask";
  auto c2 = c;
  c2.in.step = other;
  auto got2 = run(config, c2);
  EXPECT_GT(std::abs(got2.loss - a.loss), 0.0);
  expect_matches_reference(
      config, c2, [](const Ref& r) { return tropd_term(r, OutlierVariant::kFkl, 0.001, 1.0, -1.6); }, dtype(),
      "tropd at step " + std::to_string(other));
  // And another seed, at the same step.
  auto c3 = c;
  c3.in.seed = c.in.seed + 1;
  expect_matches_reference(
      config, c3, [](const Ref& r) { return tropd_term(r, OutlierVariant::kFkl, 0.001, 1.0, -1.6); }, dtype(),
      "tropd with another seed");
}

// The whole batch and its row slices (with the matching token_index and the
// global token_weight) give the same summed loss and gradient.
TEST_P(TropdTest, IndependentOfMicroBatching) {
  for (auto v : {OutlierVariant::kFkl, OutlierVariant::kMask, OutlierVariant::kClip}) {
    auto c = case_for(4);
    auto config = tropd_config(v, 0.05);
    auto whole = run(config, c);
    for (const auto& cuts : std::vector<std::vector<int64_t>>{{0, 2, 4}, {0, 1, 4}, {0, 1, 2, 3, 4}}) {
      auto leaf = c.logits.detach().clone().set_requires_grad(true);
      auto objective = make_objective(config);
      double total = 0;
      for (size_t i = 0; i + 1 < cuts.size(); ++i) {
        auto part = slice_rows(c, cuts[i], cuts[i + 1]);
        ObjectiveInputs in = part.in;
        in.student_logits = leaf.slice(0, cuts[i], cuts[i + 1]);
        auto out = objective->compute(in);
        if (out.loss.requires_grad()) out.loss.backward();
        total += out.loss.item<double>();
      }
      SCOPED_TRACE(std::string(variant_name(v)) + ", " + std::to_string(cuts.size() - 1) + " micro-batches");
      EXPECT_NEAR(total, whole.loss, 1e-5 * std::abs(whole.loss));
      EXPECT_LT(opd::testing::rel_err(leaf.grad().to(at::kDouble), whole.grad), same_tol(dtype()));
    }
  }
}

TEST_P(TropdTest, ReportsTrustRatioAndOutlierFraction) {
  auto c = case_for(5);
  auto got = run(tropd_config(OutlierVariant::kFkl, 0.001), c);
  Ref r = make_ref(c);
  const double n = count(r.student);
  const double trusted = count(trust(r) & (r.student > 0));
  EXPECT_NEAR(got.metrics.value("trust_ratio"), trusted / n, 1e-12);
  EXPECT_NEAR(got.metrics.value("outlier_fraction"), 1.0 - trusted / n, 1e-12);
  auto p = at::clamp_max((r.tau - r.s.detach()).exp(), 1.0);
  EXPECT_NEAR(got.metrics.value("trust_probability"), masked_mean(p, r.student), 1e-5);
  EXPECT_DOUBLE_EQ(got.metrics.value("tokens_teacher_prefix"), count(r.prefix));
  EXPECT_DOUBLE_EQ(got.metrics.value("tokens_student"), n);
  EXPECT_NEAR(got.metrics.value("prefix_logprob"), masked_mean(r.s.detach(), r.prefix), 1e-5);
  auto outlier = (~trust(r)) & (r.student > 0);
  EXPECT_NEAR(got.metrics.value("fkl_outlier"), masked_mean(topk_fkl(r, false).detach(), outlier), 1e-5);
}

// The outlier FKL renormalised on the top-k and/or capped per token: the
// reference applies both to its double-precision KL; a capped token's outlier
// term is constant (no gradient).
TEST_P(TropdTest, OutlierFklRenormalisedAndClippedMatchReference) {
  CaseOptions o;  // case_for's, with more rows: enough outliers to cap half of them
  o.top_k = kTopK;
  o.B = 8;
  o.L = 16;
  o.teacher_noise = 1.5;
  auto c = make_case(dtype(), 3, o);
  Ref r = make_ref(c);
  const auto outlier = (~trust(r)) & (r.student > 0);
  for (bool renormalize : {false, true}) {
    // A cap halfway between two neighbouring outlier KLs near their median: half are capped, none is a tie.
    auto kls = std::get<0>(topk_fkl(r, renormalize).detach().masked_select(outlier).sort());
    ASSERT_GE(kls.numel(), 8);
    const int64_t mid = kls.numel() / 2;
    const double cap = 0.5 * (kls[mid - 1].item<double>() + kls[mid].item<double>());
    for (double kl_clip : {0.0, cap}) {
      auto config = tropd_config(OutlierVariant::kFkl, 0.001);
      config.renormalize = renormalize;
      config.kl_clip = kl_clip;
      expect_matches_reference(
          config, c,
          [&](const Ref& r) {
            auto term = tropd_term(r, OutlierVariant::kMask, 0.001, 1.0, config.reward_floor);
            auto kl = topk_fkl(r, renormalize);
            auto capped = kl_clip > 0 ? kl.detach() > kl_clip : at::zeros_like(outlier);
            kl = at::where(capped, at::full_like(kl, kl_clip), kl);
            return Term{term.loss + kl * outlier.to(at::kDouble), term.trained | (outlier & ~capped)};
          },
          dtype(), std::string("renormalize ") + (renormalize ? "on" : "off") + " kl_clip " + std::to_string(kl_clip));
      if (kl_clip > 0) {
        auto got = run(config, c);
        EXPECT_NEAR(got.metrics.value("fkl_outlier_clipped_fraction"), double(kls.numel() - mid) / kls.numel(), 1e-12);
      }
    }
  }
}

// after[b, t]: student token t of row b follows the row's first error, its
// first student token outside the teacher's top-k.
at::Tensor after_first_error(const Ref& r, const RandomCase& c) {
  const auto student = r.student > 0;
  const auto error = student & ~(r.topk_ids == c.in.targets.unsqueeze(-1)).any(-1);
  auto after = at::zeros_like(student);
  for (int64_t b = 0; b < student.size(0); ++b) {
    bool seen = false;
    for (int64_t t = 0; t < student.size(1); ++t) {
      after[b][t] = seen && student[b][t].item<bool>();
      seen = seen || error[b][t].item<bool>();
    }
  }
  return after;
}

// fkl_after_first_error: false trains the outliers up to each response's
// first error with the FKL, and leaves those after it untrained.
TEST_P(TropdTest, OutlierFklUpToTheFirstErrorMatchesReference) {
  auto c = case_for(5);
  Ref r = make_ref(c);
  const auto outlier = (~trust(r)) & (r.student > 0);
  const auto after = after_first_error(r, c);
  ASSERT_GT(count(outlier & after), 0) << "the case must have outliers after an error";
  auto config = tropd_config(OutlierVariant::kFkl, 0.001);
  config.fkl_after_first_error = false;
  expect_matches_reference(
      config, c,
      [&](const Ref& r) {
        auto term = tropd_term(r, OutlierVariant::kMask, 0.001, 1.0, config.reward_floor);
        const auto up_to = outlier & ~after;
        return Term{term.loss + topk_fkl(r, false) * up_to.to(at::kDouble), term.trained | up_to};
      },
      dtype(), "fkl_after_first_error false");
}

// A response's first error is its first student token outside the teacher's
// top-k: the outlier statistics are split at it, per row.
TEST_P(TropdTest, SplitsOutlierStatisticsAtEachResponsesFirstError) {
  auto c = case_for(5);
  auto got = run(tropd_config(OutlierVariant::kFkl, 0.001), c);
  Ref r = make_ref(c);
  const auto student = r.student > 0;
  const auto error = student & ~(r.topk_ids == c.in.targets.unsqueeze(-1)).any(-1);
  const auto after = after_first_error(r, c);
  const auto to = student & ~after;
  ASSERT_GT(count(after), 0);
  ASSERT_GT(count(to & error), 0);
  const auto outlier = (~trust(r)) & student;
  EXPECT_NEAR(got.metrics.value("outlier_fraction_to_first_error"), count(outlier & to) / count(to), 1e-12);
  EXPECT_NEAR(got.metrics.value("outlier_fraction_after_first_error"), count(outlier & after) / count(after), 1e-12);
  const auto fkl = topk_fkl(r, false).detach();
  EXPECT_NEAR(got.metrics.value("fkl_outlier_to_first_error"), masked_mean(fkl, outlier & to), 1e-4);
  EXPECT_NEAR(got.metrics.value("fkl_outlier_after_first_error"), masked_mean(fkl, outlier & after), 1e-4);
}

// With the run's valid tokens known, the fraction of each region that is
// valid (the premise that outliers carry information); without, none.
TEST_P(TropdTest, CountsTheValidTokensOfEachRegion) {
  auto c = case_for(6);
  EXPECT_FALSE(run(tropd_config(OutlierVariant::kMask, 0.001), c).metrics.has("outlier_valid_fraction"));
  const auto valid = at::rand(c.in.targets.sizes(), at::TensorOptions(at::kDouble)) < 0.4;
  c.in.valid_tokens = valid.to(at::kFloat);
  auto got = run(tropd_config(OutlierVariant::kMask, 0.001), c);
  Ref r = make_ref(c);
  const auto student = r.student > 0;
  const auto outlier = (~trust(r)) & student;
  const auto trusted = trust(r) & student;
  ASSERT_GT(count(outlier & valid), 0);
  ASSERT_GT(count(outlier & ~valid), 0);
  EXPECT_NEAR(got.metrics.value("outlier_valid_fraction"), count(outlier & valid) / count(outlier), 1e-12);
  EXPECT_NEAR(got.metrics.value("trusted_valid_fraction"), count(trusted & valid) / count(trusted), 1e-12);
}

// tau >= s on every student token: every token is trusted, and with
// prefix_beta = 0 TrOPD is opd.
TEST_P(TropdTest, AllTrustedWithoutPrefixEqualsOpd) {
  for (auto v : {OutlierVariant::kFkl, OutlierVariant::kMask, OutlierVariant::kClip}) {
    auto c = case_for(6);
    auto s = at::log_softmax(c.logits.to(at::kFloat), -1).gather(-1, c.in.targets.unsqueeze(-1)).squeeze(-1);
    c.in.teacher_logprobs = s + 0.5f;
    auto tropd = run(tropd_config(v, 0.0), c);
    auto opd = run(config_of(ObjectiveKind::kOpd), c);
    SCOPED_TRACE(variant_name(v));
    EXPECT_NEAR(tropd.loss, opd.loss, 1e-5 * std::abs(opd.loss));
    EXPECT_LT(opd::testing::rel_err(tropd.grad, opd.grad), same_tol(dtype()));
    EXPECT_DOUBLE_EQ(tropd.metrics.value("trust_ratio"), 1.0);
    expect_matches_reference(
        tropd_config(v, 0.0), c,
        [](const Ref& r) {
          return Term{pg(r, r.tau - r.s.detach()) * r.student, r.student > 0};
        },
        dtype(), "tropd all trusted");
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, TropdTest, ::testing::Values(at::kFloat, at::kBFloat16), dtype_name);

}  // namespace
}  // namespace opd::objtest
