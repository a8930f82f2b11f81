// fkl (teacher top-k forward KL) and jsd (TrOPD Eq. 4) against the
// double-precision reference, and the limits that tie them to opd and fkl_full.
#include "objectives/objective_reference.h"

#include "opd/objectives/registry.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace opd::objtest {
namespace {

class FklJsdTest : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  at::ScalarType dtype() const { return GetParam(); }
};

ObjectiveConfig fkl_config(int64_t k, bool renormalize) {
  return config_of(ObjectiveKind::kFkl, [&](auto& c) {
    c.top_k = k;
    c.renormalize = renormalize;
  });
}

ObjectiveConfig jsd_config(double beta, int64_t k) {
  return config_of(ObjectiveKind::kJsd, [&](auto& c) {
    c.beta = beta;
    c.top_k = k;
  });
}

TEST_P(FklJsdTest, FklMatchesReference) {
  for (bool renormalize : {false, true}) {
    for (uint64_t seed : {1, 2}) {
      CaseOptions o;
      o.top_k = 8;
      o.sequence_weights = seed == 2;
      auto c = make_case(dtype(), seed, o);
      auto fn = [&](const Ref& r) { return Term{topk_fkl(r, renormalize) * r.student, r.student > 0}; };
      expect_matches_reference(
          fkl_config(8, renormalize), c, fn, dtype(),
          std::string("fkl renormalize ") + (renormalize ? "on" : "off") + " seed " + std::to_string(seed));
    }
  }
}

// Without renormalisation the gradient goes through the full softmax (every
// logit of a trained row); with it, only through the k logits.
TEST_P(FklJsdTest, FklRenormalisedGradientStaysOnTheTopK) {
  CaseOptions o;
  o.top_k = 8;
  auto c = make_case(dtype(), 3, o);
  auto got = run(fkl_config(8, true), c);
  auto outside = at::ones_like(got.grad, at::kBool).scatter_(-1, c.in.teacher_topk_ids, false);
  EXPECT_EQ(got.grad.masked_select(outside).abs().max().item<double>(), 0.0);
  auto full = run(fkl_config(8, false), c);
  auto student = source_tokens(c, 2).unsqueeze(-1).expand_as(full.grad);
  EXPECT_GT(full.grad.masked_select(outside & student).abs().min().item<double>(), 0.0);
}

TEST_P(FklJsdTest, FklReportsTopkMassAndMeanKl) {
  CaseOptions o;
  o.top_k = 8;
  auto c = make_case(dtype(), 4, o);
  auto got = run(fkl_config(8, false), c);
  Ref r = make_ref(c);
  EXPECT_NEAR(got.metrics.value("topk_mass"), masked_mean(r.topk_logp.exp().sum(-1), r.student), 1e-6);
  EXPECT_NEAR(got.metrics.value("fkl"), masked_mean(topk_fkl(r, false).detach(), r.student), 1e-5);
  EXPECT_DOUBLE_EQ(got.metrics.value("tokens_student"), count(r.student));
}

// fkl with k = V (no renormalisation) is the exact forward KL of fkl_full.
TEST_P(FklJsdTest, FklWithFullTopKEqualsFklFull) {
  CaseOptions o;
  o.top_k = o.V;
  for (uint64_t seed : {1, 2}) {
    auto c = make_case(dtype(), seed, o);
    auto fkl = run(fkl_config(o.V, false), c);
    auto full = run(config_of(ObjectiveKind::kFklFull), c);
    EXPECT_NEAR(fkl.loss, full.loss, 1e-5 * std::abs(full.loss)) << seed;
    EXPECT_LT(opd::testing::rel_err(fkl.grad, full.grad), same_tol(dtype())) << seed;
    expect_matches_reference(
        fkl_config(o.V, false), c,
        [](const Ref& r) {
          return Term{full_kl(r, true, 0) * r.student, r.student > 0};
        },
        dtype(), "fkl k = V vs the exact forward KL");
  }
}

TEST_P(FklJsdTest, JsdMatchesReference) {
  EXPECT_DOUBLE_EQ(default_objective_config(ObjectiveKind::kJsd).beta, 0.5);
  for (double beta : {0.5, 0.1, 0.9}) {
    for (uint64_t seed : {1, 2}) {
      CaseOptions o;
      o.top_k = 8;
      o.sequence_weights = seed == 2;
      auto c = make_case(dtype(), seed, o);
      auto fn = [&](const Ref& r) { return Term{jsd(r, beta) * r.student, r.student > 0}; };
      expect_matches_reference(jsd_config(beta, 8), c, fn, dtype(),
                               "jsd beta " + std::to_string(beta) + " seed " + std::to_string(seed));
    }
  }
}

TEST_P(FklJsdTest, JsdReportsTopkMass) {
  CaseOptions o;
  o.top_k = 8;
  auto c = make_case(dtype(), 5, o);
  auto got = run(jsd_config(0.5, 8), c);
  Ref r = make_ref(c);
  EXPECT_NEAR(got.metrics.value("topk_mass"), masked_mean(r.topk_logp.exp().sum(-1), r.student), 1e-6);
  auto log_ratio = r.s.detach() - r.tau;
  EXPECT_NEAR(got.metrics.value("kl_k1"), masked_mean(log_ratio, r.student), 1e-5);
  // jsd_topk: the first term divided by beta, sum_K p_T log(p_T / m).
  auto p_t = r.topk_logp.exp();
  auto m = 0.5 * p_t + 0.5 * r.logp.detach().gather(-1, r.topk_ids).exp();
  auto first = (p_t * (r.topk_logp - m.log())).sum(-1);
  EXPECT_NEAR(got.metrics.value("jsd_topk"), masked_mean(first, r.student), 1e-5);
}

// Top-k entries the teacher gives probability 0 (log-prob -inf) add nothing
// and never turn the loss or the gradient into NaN.
TEST_P(FklJsdTest, ZeroTeacherProbabilitiesContributeNothing) {
  CaseOptions o;
  o.top_k = 8;
  auto c = make_case(dtype(), 6, o);
  c.in.teacher_topk_logp = c.in.teacher_topk_logp.clone();
  c.in.teacher_topk_logp.narrow(-1, 6, 2).fill_(-std::numeric_limits<float>::infinity());
  for (bool renormalize : {false, true}) {
    expect_matches_reference(
        fkl_config(8, renormalize), c,
        [&](const Ref& r) {
          return Term{topk_fkl(r, renormalize) * r.student, r.student > 0};
        },
        dtype(), "fkl with p_T = 0 entries");
  }
  expect_matches_reference(
      jsd_config(0.5, 8), c,
      [](const Ref& r) {
        return Term{jsd(r, 0.5) * r.student, r.student > 0};
      },
      dtype(), "jsd with p_T = 0 entries");
}

// beta -> 1 with k = V: the gradient divided by (1 - beta) tends to opd's.
TEST_P(FklJsdTest, JsdTendsToOpdAsBetaTendsToOne) {
  CaseOptions o;
  o.top_k = o.V;
  o.teacher_noise = 1.0;  // a teacher near the student keeps p_S / p_T bounded
  auto c = make_case(dtype(), 1, o);
  auto opd = run(config_of(ObjectiveKind::kOpd), c);
  double previous = 1e9;
  for (double gap : {1e-2, 1e-3, 1e-4}) {
    auto got = run(jsd_config(1.0 - gap, o.V), c);
    const double err = opd::testing::rel_err(got.grad / gap, opd.grad);
    // Converging (until bf16's rounding of the gradient is all that is left).
    if (dtype() == at::kFloat || err > 2e-2) {
      EXPECT_LT(err, previous) << "1 - beta = " << gap;
    }
    previous = err;
  }
  EXPECT_LT(previous, 1e-3 + (dtype() == at::kBFloat16 ? 1e-2 : 0.0));
}

// beta -> 0: the gradient divided by beta tends to the top-k fkl's plus a PG
// term with advantage exp(tau - s) - 1.
TEST_P(FklJsdTest, JsdTendsToFklPlusPgAsBetaTendsToZero) {
  CaseOptions o;
  o.top_k = 8;
  o.teacher_noise = 1.0;
  auto c = make_case(dtype(), 2, o);
  auto fkl = run(fkl_config(8, false), c);
  auto pg_part = reference(c, [](const Ref& r) {
    return Term{pg(r, (r.tau - r.s.detach()).exp() - 1) * r.student, r.student > 0};
  });
  auto limit = fkl.grad + pg_part.grad;
  double previous = 1e9;
  for (double beta : {1e-1, 1e-2, 1e-3}) {
    auto got = run(jsd_config(beta, 8), c);
    const double err = opd::testing::rel_err(got.grad / beta, limit);
    if (dtype() == at::kFloat || err > 2e-2) {
      EXPECT_LT(err, previous) << "beta = " << beta;
    }
    previous = err;
  }
  EXPECT_LT(previous, 5e-3 + (dtype() == at::kBFloat16 ? 1e-2 : 0.0));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FklJsdTest, ::testing::Values(at::kFloat, at::kBFloat16), dtype_name);

}  // namespace
}  // namespace opd::objtest
