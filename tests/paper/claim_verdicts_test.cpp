#include "opd/paper/claim_verdicts.h"

#include "support/test_support.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <fstream>

namespace opd::paper::claim_verdicts_test {
namespace {

using opd::testing::ScratchDir;

TEST(PairedDifference, IsTheMeanDifferenceWithAStudentTInterval) {
  // Differences 1, 2, 3: mean 2, sample sd 1, t(2) = 4.303, half width 4.303 / sqrt(3).
  const auto d = paired_difference({1.5, 2.0, 3.25}, {0.5, 0.0, 0.25});
  EXPECT_EQ(d.n, 3);
  EXPECT_NEAR(d.mean, 2.0, 1e-12);
  EXPECT_NEAR(d.lo, 2.0 - 4.303 / std::sqrt(3.0), 1e-9);
  EXPECT_NEAR(d.hi, 2.0 + 4.303 / std::sqrt(3.0), 1e-9);
  const auto one = paired_difference({1.0}, {0.0});
  EXPECT_EQ(one.n, 1);
  EXPECT_TRUE(std::isinf(one.lo) && std::isinf(one.hi));
  EXPECT_EQ(paired_difference({}, {}).n, 0);
}

TEST(WindowDrop, ComparesTheFirstAndLastTenthOfTheSteps) {
  std::vector<double> curve(20, 1.0);
  curve[0] = curve[1] = 2.0;    // first tenth: mean 2
  curve[18] = curve[19] = 0.5;  // last tenth: mean 0.5
  EXPECT_NEAR(window_drop(curve), 0.75, 1e-12);
  EXPECT_NEAR(window_drop({0.4, 0.3, 0.2}), 0.5, 1e-12) << "fewer than 10 steps: the first against the last";
  EXPECT_EQ(window_drop({}), 0.0);
}

TEST(NoiseRatio, PredictsTheGradientNormRatioOfBatchBAndBOver4FromTheSplitCosine) {
  // Per-sample gradients: a fixed mean of norm 1 plus isotropic noise of
  // total variance s2, in 4096 dimensions. Measured over 400 draws of a batch
  // of 16: the mean cosine between the two halves' gradients, and the ratio
  // of the root mean squared norms of the batch's mean gradient and of its
  // first quarter's. The prediction from the cosine alone must match.
  at::manual_seed(7);
  const int64_t dims = 4096, batch = 16, draws = 400;
  const auto mean = at::ones({dims}, at::kDouble) / std::sqrt(double(dims));
  for (const double s2 : {0.0, 2.0, 8.0, 32.0, 256.0}) {
    double cosines = 0, full = 0, quarter = 0;
    for (int64_t d = 0; d < draws; ++d) {
      const auto samples = mean + at::randn({batch, dims}, at::kDouble) * std::sqrt(s2 / double(dims));
      const auto a = samples.slice(0, 0, batch / 2).sum(0), b = samples.slice(0, batch / 2).sum(0);
      cosines += (a * b).sum().item<double>() / (a.norm() * b.norm()).item<double>();
      full += samples.mean(0).pow(2).sum().item<double>();
      quarter += samples.slice(0, 0, batch / 4).mean(0).pow(2).sum().item<double>();
    }
    const double measured = std::sqrt(full / quarter);
    EXPECT_NEAR(noise_ratio_from_split_cosine(cosines / double(draws)), measured, 0.02) << "noise variance " << s2;
  }
  EXPECT_DOUBLE_EQ(noise_ratio_from_split_cosine(1.0), 1.0);
  EXPECT_DOUBLE_EQ(noise_ratio_from_split_cosine(-0.1), 0.5) << "no detectable signal: pure noise";
  EXPECT_NEAR(noise_ratio_from_split_cosine(1.0 / 1.7), 0.75, 1e-9) << "x = 0.35: the gate's default threshold";
}

// A suite file with two rows, a student baseline, one claim and a gate.
Suite gated_suite(const ScratchDir& dir, const std::string& claims) {
  const std::string text = "name: v\nout_dir: " + (dir / "out") +
                           "\ntasks: {domains: [arith], train: 8, test: 4}\n"
                           "cast:\n  - {name: student, init: {layers: 1, hidden: 32, intermediate: 64, heads: 2, "
                           "kv_heads: 1, head_dim: 16}}\n"
                           "baselines:\n  - {name: student, path: \"cast:student\"}\n"
                           "recipe:\n  student: {path: \"cast:student\", chat_template: chatml}\n"
                           "  teacher: {path: \"cast:student\", chat_template: chatml}\n"
                           "seeds: [0, 1, 2]\neval: {k: 2, pass_at: [1, 2]}\n"
                           "rows:\n  - {name: opd, objective: {name: opd}}\n  - {name: tropd, objective: {name: tropd}}\n"
                           "gate: {row: opd, baseline: student, score: \"test/all avg@2\"}\n" + claims;
  std::ofstream(dir / "v.yaml") << text;
  return load_suite(dir / "v.yaml");
}

RowResult result(const std::string& row, uint64_t seed, double avg, bool baseline = false) {
  RowResult r;
  r.row = row;
  r.seed = seed;
  r.baseline = baseline;
  eval::EvalReport report;
  report.k = 2;
  report.rows.push_back({"all", 4, avg, {{1, avg}, {2, avg}}});
  r.splits["test"] = report;
  return r;
}

// The gate row's curves: `divergence` by seed, and a split-batch gradient
// cosine of `cosine` at each of its steps.
GateCurves curves(const std::map<uint64_t, std::vector<double>>& divergence, double cosine = 0.9) {
  GateCurves c;
  c.divergence = divergence;
  for (const auto& [seed, curve] : divergence) c.split_cosine[seed] = std::vector<double>(curve.size(), cosine);
  return c;
}

const std::string kClaim =
    "claims:\n  - {name: \"TrOPD above OPD\", better: tropd, than: opd, score: \"test/all avg@2\"}\n";

TEST(ClaimVerdicts, APassedGateLetsThePairedDifferenceDecide) {
  ScratchDir dir;
  const auto suite = gated_suite(dir, kClaim);
  const auto falling = curves({{0, {1.0, 0.5}}, {1, {1.0, 0.6}}, {2, {1.0, 0.4}}});
  std::vector<RowResult> results = {result("student", 0, 0.10, true)};
  for (uint64_t s = 0; s < 3; ++s) results.push_back(result("opd", s, 0.40 + 0.01 * double(s)));

  auto above = results;
  for (uint64_t s = 0; s < 3; ++s) above.push_back(result("tropd", s, 0.50 + 0.02 * double(s)));
  auto table = make_verdicts(suite, above, falling);
  EXPECT_TRUE(table.gate.passed) << table.gate.reason;
  EXPECT_NEAR(table.gate.kl_drop, 0.5, 1e-12);
  ASSERT_EQ(table.claims.size(), 1u);
  EXPECT_EQ(table.claims[0].difference.n, 3);
  EXPECT_NEAR(table.claims[0].difference.mean, 0.11, 1e-12);
  EXPECT_EQ(table.claims[0].verdict, Verdict::kReproduced);

  auto below = results;
  for (uint64_t s = 0; s < 3; ++s) below.push_back(result("tropd", s, 0.20 + 0.01 * double(s)));
  EXPECT_EQ(make_verdicts(suite, below, falling).claims[0].verdict, Verdict::kReversed);

  auto mixed = results;
  for (uint64_t s = 0; s < 3; ++s) mixed.push_back(result("tropd", s, s == 1 ? 0.60 : 0.30));
  EXPECT_EQ(make_verdicts(suite, mixed, falling).claims[0].verdict, Verdict::kNotDistinguishable);

  const auto md = verdicts_markdown(table, suite);
  EXPECT_NE(md.find("| TrOPD above OPD | tropd | opd | test/all avg@2 | +0.110 ["), std::string::npos) << md;
  EXPECT_NE(md.find("| 3 | reproduced |"), std::string::npos) << md;
  EXPECT_NE(md.find("**passed**"), std::string::npos) << md;
}

TEST(ClaimVerdicts, AFailedGateMarksEveryClaimNotTested) {
  ScratchDir dir;
  const auto suite = gated_suite(dir, kClaim);
  std::vector<RowResult> results = {result("student", 0, 0.10, true)};
  for (uint64_t s = 0; s < 3; ++s) {
    results.push_back(result("opd", s, 0.40));
    results.push_back(result("tropd", s, 0.90));
  }
  // kl_k1 barely moves: the gate fails on its first condition.
  const auto flat = curves({{0, {1.0, 0.9}}, {1, {1.0, 0.95}}, {2, {1.0, 0.85}}});
  auto table = make_verdicts(suite, results, flat);
  EXPECT_FALSE(table.gate.passed);
  EXPECT_NE(table.gate.reason.find("kl_k1 of 'opd' falls 10 %, not the 30 % fall needed"), std::string::npos)
      << table.gate.reason;
  EXPECT_EQ(table.claims[0].verdict, Verdict::kNotTested) << "a clear win still is not tested";

  // kl_k1 falls, but OPD does not beat the untrained student.
  std::vector<RowResult> flat_scores = {result("student", 0, 0.40, true)};
  for (uint64_t s = 0; s < 3; ++s) {
    flat_scores.push_back(result("opd", s, s == 0 ? 0.45 : 0.38));
    flat_scores.push_back(result("tropd", s, 0.90));
  }
  const auto falling = curves({{0, {1.0, 0.5}}, {1, {1.0, 0.5}}, {2, {1.0, 0.5}}});
  table = make_verdicts(suite, flat_scores, falling);
  EXPECT_FALSE(table.gate.passed);
  EXPECT_NE(table.gate.reason.find("'opd' is not significantly above 'student'"), std::string::npos)
      << table.gate.reason;
  EXPECT_NE(verdicts_markdown(table, suite).find("| not tested |"), std::string::npos);
}

TEST(ClaimVerdicts, AGradientThatIsMostlyNoiseFailsTheGate) {
  ScratchDir dir;
  const auto suite = gated_suite(dir, kClaim);
  std::vector<RowResult> results = {result("student", 0, 0.10, true)};
  for (uint64_t s = 0; s < 3; ++s) {
    results.push_back(result("opd", s, 0.40 + 0.01 * double(s)));
    results.push_back(result("tropd", s, 0.60));
  }
  const std::map<uint64_t, std::vector<double>> falling = {{0, {1.0, 0.5}}, {1, {1.0, 0.6}}, {2, {1.0, 0.4}}};
  // Cosine 0.3: x = 7/6, ratio sqrt(13/34) = 0.62, below 0.75.
  auto table = make_verdicts(suite, results, curves(falling, 0.3));
  EXPECT_FALSE(table.gate.passed);
  EXPECT_NEAR(table.gate.split_cosine, 0.3, 1e-12);
  EXPECT_EQ(table.gate.cosine_seeds, 3);
  EXPECT_NEAR(table.gate.noise_ratio, std::sqrt(13.0 / 34.0), 1e-9);
  EXPECT_NE(table.gate.reason.find("the gradient of 'opd' is mostly noise at this batch (split-batch cosine 0.300: "
                                   "batch B's gradient norm is 0.62 of batch B/4's, not the 0.75 needed)"),
            std::string::npos)
      << table.gate.reason;
  EXPECT_EQ(table.claims[0].verdict, Verdict::kNotTested);
  EXPECT_NE(verdicts_markdown(table, suite).find("prompts is 0.300 (mean over the steps of 3 seeds), so batch B's "
                                                 "gradient norm is 0.62 of batch B/4's (needs 0.75"),
            std::string::npos);

  GateCurves unmeasured;
  unmeasured.divergence = falling;
  table = make_verdicts(suite, results, unmeasured);
  EXPECT_FALSE(table.gate.passed);
  EXPECT_EQ(table.gate.reason, "no grad_split_cosine curve of row 'opd'");

  EXPECT_TRUE(make_verdicts(suite, results, curves(falling, 0.9)).gate.passed);
}

RowResult with_metric(RowResult r, const std::string& metric, double value) {
  r.last_step[metric] = value;
  return r;
}

TEST(ClaimVerdicts, APremiseThatDoesNotHoldMarksEveryClaimNotTested) {
  ScratchDir dir;
  const std::string premises =
      "premises:\n"
      "  - {name: top-k leaves mass out, row: tropd, metric: topk_mass, min: 0.6, max: 0.95}\n"
      "  - {name: OPD near the teacher, row: opd, of: student, score: \"test/all avg@2\", min: 0.9}\n";
  const auto suite = gated_suite(dir, kClaim + premises);
  ASSERT_EQ(suite.premises.size(), 2u);
  const auto falling = curves({{0, {1.0, 0.5}}, {1, {1.0, 0.6}}, {2, {1.0, 0.4}}});
  auto results_with = [&](double topk_mass) {
    std::vector<RowResult> results = {result("student", 0, 0.10, true)};
    for (uint64_t s = 0; s < 3; ++s) {
      results.push_back(result("opd", s, 0.40 + 0.01 * double(s)));
      results.push_back(with_metric(result("tropd", s, 0.60 + 0.01 * double(s)), "topk_mass", topk_mass));
    }
    return results;
  };
  auto table = make_verdicts(suite, results_with(0.8), falling);
  ASSERT_EQ(table.premises.size(), 2u);
  EXPECT_TRUE(table.premises[0].holds);
  EXPECT_NEAR(table.premises[0].value, 0.8, 1e-12);
  EXPECT_EQ(table.premises[0].seeds, 3);
  EXPECT_TRUE(table.premises[1].holds);
  EXPECT_NEAR(table.premises[1].value, 4.1, 1e-9) << "opd's 0.41 over the student's 0.10";
  EXPECT_EQ(table.claims[0].verdict, Verdict::kReproduced);

  // The top-k covers all the mass: the claim about truncation is not tested.
  table = make_verdicts(suite, results_with(0.999), falling);
  EXPECT_FALSE(table.premises[0].holds);
  EXPECT_FALSE(table.gate.passed);
  EXPECT_EQ(table.gate.reason, "premise 'top-k leaves mass out' does not hold");
  EXPECT_EQ(table.claims[0].verdict, Verdict::kNotTested);
  const auto md = verdicts_markdown(table, suite);
  EXPECT_NE(md.find("Premise 'top-k leaves mass out': tropd's topk_mass (last step) is 0.999 over 3 seeds, needs in "
                    "[0.6, 0.95]: **does not hold**."),
            std::string::npos)
      << md;
}

TEST(ClaimVerdicts, BadClaimsAreOneLineNamingWhere) {
  ScratchDir dir;
  auto message = [&](const std::string& claims) {
    return opd::testing::error_message([&] { gated_suite(dir, claims); });
  };
  auto bad = message("claims:\n  - {name: c, better: nosuch, than: opd, score: \"test/all avg@2\"}\n");
  EXPECT_NE(bad.find("claims[0].better: no row named 'nosuch'"), std::string::npos) << bad;
  bad = message("claims:\n  - {name: c, better: tropd, than: opd, score: \"test/all avg@8\"}\n");
  EXPECT_NE(bad.find("claims[0].score: 'avg@8' is not reported"), std::string::npos) << bad;
  bad = message("claims:\n  - {name: c, better: tropd, than: opd, score: \"heldout/all avg@2\"}\n");
  EXPECT_NE(bad.find("'heldout' is not a split of eval"), std::string::npos) << bad;
  bad = message("claims:\n  - {name: c, better: tropd, than: opd, score: avg}\n");
  EXPECT_NE(bad.find("expected a results column like 'test/all avg@2'"), std::string::npos) << bad;
  bad = message("claims:\n  - {name: c, better: tropd, than: opd, scor: x}\n");
  EXPECT_NE(bad.find("scor: unknown key"), std::string::npos) << bad;
  bad = message("premises:\n  - {name: p, row: opd, metric: topk_mass}\n");
  EXPECT_NE(bad.find("premises[0]: give min, max or both"), std::string::npos) << bad;
  bad = message("premises:\n  - {name: p, row: opd, metric: topk_mass, of: student, min: 1}\n");
  EXPECT_NE(bad.find("premises[0]: give a metric, or of (a baseline) with a score"), std::string::npos) << bad;
  bad = message("premises:\n  - {name: p, row: opd, of: teacher, score: \"test/all avg@2\", min: 0.9}\n");
  EXPECT_NE(bad.find("premises[0].of: no baseline named 'teacher'"), std::string::npos) << bad;
  EXPECT_EQ(bad.find('\n'), std::string::npos) << bad;
}

TEST(ClaimVerdicts, AGateLogsEveryRowsGradientNoiseAndChecksItsBounds) {
  ScratchDir dir;
  const auto suite = gated_suite(dir, kClaim);
  for (const auto& row : suite.rows) {
    EXPECT_TRUE(row_config(suite, row, 0).log_gradient_noise) << row.name;
  }
  const auto bad = opd::testing::error_message([&] {
    std::string text;
    {
      std::ifstream in(dir / "v.yaml");
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    const auto at = text.find("score: \"test/all avg@2\"}");
    text.insert(at + 23, ", min_noise_ratio: 0.4");
    std::ofstream(dir / "w.yaml") << text;
    load_suite(dir / "w.yaml");
  });
  EXPECT_NE(bad.find("gate.min_noise_ratio must lie in (0.5, 1) (0.5: pure noise, 1: no noise), got 0.4"),
            std::string::npos)
      << bad;
}

}  // namespace
}  // namespace opd::paper::claim_verdicts_test
