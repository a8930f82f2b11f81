// eopd (Jin et al. 2026): opd on every student token plus alpha * top-k fkl
// where the teacher's full-vocab entropy exceeds h.
#include "objectives/objective_reference.h"

#include "opd/objectives/registry.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace opd::objtest {
namespace {

class EopdTest : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  at::ScalarType dtype() const { return GetParam(); }
};


RandomCase eopd_case(at::ScalarType dtype, uint64_t seed) {
  CaseOptions o;
  o.top_k = kTopK;
  o.sequence_weights = seed % 2 == 0;
  return make_case(dtype, seed, o);
}

// A threshold halfway between two teacher entropies near the median of the
// student tokens', so both sides of the gate are populated and none sits on it.
double median_threshold(const RandomCase& c) {
  auto h = c.in.teacher_entropy.to(at::kDouble).masked_select(source_tokens(c, 2));
  auto sorted = std::get<0>(h.sort());
  const int64_t mid = sorted.size(0) / 2;
  return 0.5 * (sorted[mid - 1].item<double>() + sorted[mid].item<double>());
}

ObjectiveConfig eopd_config(double threshold, double alpha) {
  return config_of(ObjectiveKind::kEopd, [&](auto& k) {
    k.top_k = kTopK;
    k.entropy_threshold = threshold;
    k.alpha = alpha;
  });
}

Term eopd_term(const Ref& r, double threshold, double alpha) {
  auto gate = (r.teacher_entropy > threshold).to(at::kDouble);
  auto l = pg(r, r.tau - r.s.detach()) + alpha * gate * topk_fkl(r, /*renormalize=*/false);
  return {l * r.student, r.student > 0};
}

TEST(EopdDefaults, FollowThePaper) {
  auto config = default_objective_config(ObjectiveKind::kEopd);
  EXPECT_DOUBLE_EQ(config.entropy_threshold, 0.8);
  EXPECT_DOUBLE_EQ(config.alpha, 1.0);
  EXPECT_FALSE(config.renormalize);
  auto needs = make_objective(eopd_config(0.8, 1.0))->needs();
  EXPECT_TRUE(needs.teacher_entropy);
  EXPECT_TRUE(needs.teacher_logprobs);
  EXPECT_EQ(needs.teacher_topk, kTopK);
}

TEST_P(EopdTest, MatchesReference) {
  for (double alpha : {1.0, 0.4}) {
    for (uint64_t seed : {1, 2}) {
      auto c = eopd_case(dtype(), seed);
      const double h = median_threshold(c);
      expect_matches_reference(
          eopd_config(h, alpha), c, [&](const Ref& r) { return eopd_term(r, h, alpha); }, dtype(),
          "eopd alpha " + std::to_string(alpha) + " seed " + std::to_string(seed));
    }
  }
}

TEST_P(EopdTest, ReportsTheGatedFraction) {
  auto c = eopd_case(dtype(), 3);
  const double h = median_threshold(c);
  auto got = run(eopd_config(h, 1.0), c);
  Ref r = make_ref(c);
  auto gate = (r.teacher_entropy > h).to(at::kDouble) * r.student;
  EXPECT_NEAR(got.metrics.value("gated_fraction"), count(gate) / count(r.student), 1e-12);
  EXPECT_NEAR(got.metrics.value("fkl"), masked_mean(topk_fkl(r, false).detach(), gate), 1e-5);
}

// A gate no token passes is opd; one every token passes is opd + alpha * fkl.
TEST_P(EopdTest, GateLimitsAreOpdAndOpdPlusFkl) {
  auto c = eopd_case(dtype(), 4);
  const double above_all = c.in.teacher_entropy.max().item<double>() + 1.0;
  auto none = run(eopd_config(above_all, 1.0), c);
  auto opd = run(config_of(ObjectiveKind::kOpd), c);
  EXPECT_NEAR(none.loss, opd.loss, 1e-5 * std::abs(opd.loss));
  EXPECT_LT(opd::testing::rel_err(none.grad, opd.grad), same_tol(dtype()));

  auto all = run(eopd_config(0.0, 0.5), c);  // every entropy is > 0
  auto fkl = run(config_of(ObjectiveKind::kFkl, [](auto& k) { k.top_k = kTopK; }), c);
  const double expected = opd.loss + 0.5 * fkl.loss;
  EXPECT_NEAR(all.loss, expected, 1e-5 * std::abs(expected));
  EXPECT_LT(opd::testing::rel_err(all.grad, opd.grad + 0.5 * fkl.grad), same_tol(dtype()));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, EopdTest, ::testing::Values(at::kFloat, at::kBFloat16), dtype_name);

}  // namespace
}  // namespace opd::objtest
