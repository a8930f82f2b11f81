// trd, fkl_full and rkl_full: the exact full-vocabulary KL from the teacher's
// logits, with the per-token clip and the top-k support options.
#include "objectives/objective_reference.h"

#include "opd/objectives/registry.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <string>

namespace opd::objtest {
namespace {

struct Divergence {
  ObjectiveKind kind;
  const char* name;
  bool forward;
  int source;  // the tokens that train
};

const Divergence kDivergences[] = {
    {ObjectiveKind::kTrd, "trd", true, 3},
    {ObjectiveKind::kFklFull, "fkl_full", true, 2},
    {ObjectiveKind::kRklFull, "rkl_full", false, 2},
};

class FullVocabDivergenceTest : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  at::ScalarType dtype() const { return GetParam(); }
  RandomCase case_for(uint64_t seed) {
    CaseOptions o;
    o.sequence_weights = seed % 2 == 0;
    return make_case(dtype(), seed, o);
  }
};

ObjectiveConfig divergence_config(const Divergence& d, double clip, int64_t support_k) {
  return config_of(d.kind, [&](auto& k) {
    k.kl_clip = clip;
    k.support_k = support_k;
  });
}

at::Tensor tokens_of(const Ref& r, const Divergence& d) { return d.source == 3 ? r.refined : r.student; }

// Tokens above the cap keep the value `clip` and get no gradient.
Term divergence_term(const Ref& r, const Divergence& d, double clip, int64_t support_k) {
  auto tokens = tokens_of(r, d);
  auto kl = full_kl(r, d.forward, support_k);
  if (clip <= 0) return {kl * tokens, tokens > 0};
  auto above = kl.detach() > clip;
  auto capped = at::where(above, at::full({}, clip, at::kDouble), kl);
  return {capped * tokens, (tokens > 0) & ~above};
}

// A cap halfway between two per-token KLs near the median of the trained
// tokens': both sides populated, none on the cap.
double median_clip(const RandomCase& c, const Divergence& d, int64_t support_k) {
  Ref r = make_ref(c);
  auto kl = full_kl(r, d.forward, support_k).detach().masked_select(tokens_of(r, d) > 0);
  auto sorted = std::get<0>(kl.sort());
  const int64_t mid = sorted.size(0) / 2;
  return 0.5 * (sorted[mid - 1].item<double>() + sorted[mid].item<double>());
}

TEST(FullVocabDivergenceNeeds, TeacherLogitsAndTrajectory) {
  for (const auto& d : kDivergences) {
    auto objective = make_objective(default_objective_config(d.kind));
    EXPECT_EQ(objective->name(), d.name);
    auto needs = objective->needs();
    EXPECT_TRUE(needs.teacher_logits) << d.name;
    EXPECT_EQ(needs.trajectory, d.source == 3 ? Trajectory::kRefined : Trajectory::kStudent) << d.name;
  }
}

TEST_P(FullVocabDivergenceTest, MatchesReference) {
  for (const auto& d : kDivergences) {
    for (uint64_t seed : {1, 2}) {
      auto c = case_for(seed);
      for (int64_t support_k : {0, 8}) {
        const double median = median_clip(c, d, support_k);
        for (double clip : {0.0, median}) {
          expect_matches_reference(
              divergence_config(d, clip, support_k), c,
              [&](const Ref& r) { return divergence_term(r, d, clip, support_k); }, dtype(),
              std::string(d.name) + " seed " + std::to_string(seed) + " support_k " +
                  std::to_string(support_k) + " kl_clip " + std::to_string(clip));
        }
      }
    }
  }
}

TEST_P(FullVocabDivergenceTest, TeacherLogitsInBf16) {
  auto c = case_for(3);
  c.teacher_logits = c.teacher_logits.to(at::kBFloat16).to(at::kFloat);
  c.in.teacher_logits = c.teacher_logits.to(at::kBFloat16);
  for (const auto& d : kDivergences) {
    expect_matches_reference(
        divergence_config(d, 0, 0), c, [&](const Ref& r) { return divergence_term(r, d, 0, 0); }, dtype(),
        std::string(d.name) + " with bf16 teacher logits");
  }
}

TEST_P(FullVocabDivergenceTest, ReportsTheMeanKlAndTheClippedFraction) {
  auto c = case_for(4);
  Ref r = make_ref(c);
  for (const auto& d : kDivergences) {
    SCOPED_TRACE(d.name);
    auto tokens = tokens_of(r, d);
    auto kl = full_kl(r, d.forward, 0).detach();
    auto got = run(divergence_config(d, 0, 0), c);
    EXPECT_NEAR(got.metrics.value(d.forward ? "kl_forward" : "kl_reverse"), masked_mean(kl, tokens),
                1e-5 * masked_mean(kl, tokens));
    EXPECT_DOUBLE_EQ(got.metrics.value("tokens_refined"), count(r.refined));
    EXPECT_DOUBLE_EQ(got.metrics.value("tokens_student"), count(r.student));
    const double clip = median_clip(c, d, 0);
    auto clipped = run(divergence_config(d, clip, 0), c);
    EXPECT_NEAR(clipped.metrics.value("clipped_fraction"), count((kl > clip) & (tokens > 0)) / count(tokens),
                1e-12);
  }
}

// rkl_full and fkl_full measure different directions: on the same tokens
// they differ (a guard against one silently computing the other).
TEST_P(FullVocabDivergenceTest, DirectionsDiffer) {
  auto c = case_for(5);
  auto forward = run(config_of(ObjectiveKind::kFklFull), c);
  auto reverse = run(config_of(ObjectiveKind::kRklFull), c);
  EXPECT_GT(std::abs(forward.loss - reverse.loss), 1e-3 * std::abs(forward.loss));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FullVocabDivergenceTest, ::testing::Values(at::kFloat, at::kBFloat16),
                         dtype_name);

}  // namespace
}  // namespace opd::objtest
