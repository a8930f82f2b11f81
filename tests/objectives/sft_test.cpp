// sft: -s on the off-policy tokens (source 1), teacher-written or the dataset's.
#include "objectives/objective_reference.h"

#include "opd/objectives/registry.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <string>

namespace opd::objtest {
namespace {

class SftTest : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  at::ScalarType dtype() const { return GetParam(); }
};

ObjectiveConfig sft_config(SftTargets targets) {
  return config_of(ObjectiveKind::kSft, [&](auto& k) { k.sft_targets = targets; });
}

TEST(SftNeeds, TrajectoryFollowsTheTargets) {
  EXPECT_EQ(make_objective(sft_config(SftTargets::kTeacher))->needs().trajectory, Trajectory::kTeacher);
  EXPECT_EQ(make_objective(sft_config(SftTargets::kDataset))->needs().trajectory, Trajectory::kDataset);
  EXPECT_EQ(make_objective(sft_config(SftTargets::kDataset))->name(), "sft");
}

TEST_P(SftTest, MatchesReference) {
  for (auto targets : {SftTargets::kTeacher, SftTargets::kDataset}) {
    for (uint64_t seed : {1, 2}) {
      CaseOptions o;
      o.sequence_weights = seed == 2;
      auto c = make_case(dtype(), seed, o);
      expect_matches_reference(
          sft_config(targets), c,
          [](const Ref& r) {
            return Term{-r.s * r.prefix, r.prefix > 0};
          },
          dtype(), std::string("sft ") + sft_targets_name(targets) + " seed " + std::to_string(seed));
    }
  }
}

TEST_P(SftTest, ReportsNllAndSourceCounts) {
  auto c = make_case(dtype(), 3);
  auto got = run(sft_config(SftTargets::kTeacher), c);
  Ref r = make_ref(c);
  const double nll = masked_mean(-r.s.detach(), r.prefix);
  EXPECT_NEAR(got.metrics.value("nll"), nll, 1e-5 * nll);
  EXPECT_DOUBLE_EQ(got.metrics.value("tokens_teacher_prefix"), count(r.prefix));
  EXPECT_DOUBLE_EQ(got.metrics.value("tokens_student"), count(r.student));
  EXPECT_DOUBLE_EQ(got.metrics.value("tokens_refined"), count(r.refined));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, SftTest, ::testing::Values(at::kFloat, at::kBFloat16), dtype_name);

}  // namespace
}  // namespace opd::objtest
