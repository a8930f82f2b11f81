// Every objective that reads the student only through its log-probs gives the
// same loss, gradient and metrics when the trainer hands it hidden states and
// an lm_head to project chunk by chunk (train.logits_chunk_tokens) as when it
// hands it the whole logits; the full-vocabulary objectives ask for the whole
// logits instead.
#include "objectives/objective_reference.h"

#include "opd/objectives/registry.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <string>

namespace opd::objtest {
namespace {

class ChunkedHeadTest : public ::testing::TestWithParam<at::ScalarType> {};

std::vector<std::pair<std::string, ObjectiveConfig>> log_prob_objectives() {
  std::vector<std::pair<std::string, ObjectiveConfig>> out;
  for (auto kind : {ObjectiveKind::kSft, ObjectiveKind::kOpd, ObjectiveKind::kGopd, ObjectiveKind::kFkl,
                    ObjectiveKind::kJsd, ObjectiveKind::kEntropyOpd, ObjectiveKind::kEopd, ObjectiveKind::kReopold,
                    ObjectiveKind::kMask, ObjectiveKind::kTropd}) {
    out.emplace_back(objective_name(kind), config_of(kind, [](auto& c) { c.top_k = kTopK; }));
  }
  out.emplace_back("fkl renormalised", config_of(ObjectiveKind::kFkl, [](auto& c) {
                     c.top_k = kTopK;
                     c.renormalize = true;
                   }));
  return out;
}

TEST_P(ChunkedHeadTest, SameLossGradientAndMetricsAsTheWholeLogits) {
  const auto dtype = GetParam();
  auto c = make_case(dtype, 5);  // 4 rows x 8 positions: chunks of 3 leave a short last one
  for (const auto& [name, config] : log_prob_objectives()) {
    SCOPED_TRACE(name);
    ASSERT_FALSE(make_objective(config)->needs().student_logits);
    const auto whole = run(config, c), chunked = run_chunked(config, c, 3);
    EXPECT_NEAR(chunked.loss, whole.loss, same_tol(dtype) * (1 + std::abs(whole.loss)));
    EXPECT_LT(opd::testing::rel_err(chunked.grad, whole.grad), same_tol(dtype));
    ASSERT_EQ(chunked.metrics.entries().size(), whole.metrics.entries().size());
    for (const auto& [metric, entry] : whole.metrics.entries()) {
      const double w = whole.metrics.value(metric);
      EXPECT_NEAR(chunked.metrics.value(metric), w, same_tol(dtype) * (1 + std::abs(w))) << metric;
    }
  }
}

// Renormalised on the top-k, the chunked fkl reaches the other V - k logits
// only by rounding (the whole-logits pass writes exact zeros there).
TEST_P(ChunkedHeadTest, RenormalisedFklStaysOnTheTopKUpToRounding) {
  CaseOptions o;
  o.top_k = kTopK;
  auto c = make_case(GetParam(), 3, o);
  auto config = config_of(ObjectiveKind::kFkl, [](auto& k) {
    k.top_k = kTopK;
    k.renormalize = true;
  });
  auto got = run_chunked(config, c, 5);
  auto outside = at::ones_like(got.grad, at::kBool).scatter_(-1, c.in.teacher_topk_ids, false);
  const double inside = got.grad.masked_select(~outside).abs().max().item<double>();
  ASSERT_GT(inside, 0.0);
  EXPECT_LT(got.grad.masked_select(outside).abs().max().item<double>(), 1e-6 * inside);
}

TEST(ChunkedHead, FullVocabularyObjectivesAskForTheWholeLogits) {
  for (auto kind : {ObjectiveKind::kTrd, ObjectiveKind::kFklFull, ObjectiveKind::kRklFull}) {
    EXPECT_TRUE(make_objective(config_of(kind))->needs().student_logits) << objective_name(kind);
  }
}

TEST(ChunkedHead, AnObjectiveGivenNeitherLogitsNorHiddenStatesSaysSo) {
  auto c = make_case(at::kFloat, 1);
  auto objective = make_objective(config_of(ObjectiveKind::kOpd));
  opd::testing::expect_error([&] { objective->compute(c.in); },
                             {"neither the student's logits nor its hidden states and lm_head"});
}

INSTANTIATE_TEST_SUITE_P(Dtypes, ChunkedHeadTest, ::testing::Values(at::kFloat, at::kBFloat16), dtype_name);

}  // namespace
}  // namespace opd::objtest
