#include "opd/eval/eval_report.h"
#include "opd/eval/pass_at_k.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

namespace opd::eval {
namespace {

// The definition, by brute force: over every k-subset of n samples (c of them
// correct), the fraction holding at least one correct sample.
double enumerate_pass_at_k(int n, int c, int k) {
  int64_t subsets = 0, hit = 0;
  for (uint32_t mask = 0; mask < (1u << n); ++mask) {
    if (__builtin_popcount(mask) != k) continue;
    ++subsets;
    hit += (mask & ((1u << c) - 1)) != 0;  // samples 0..c-1 are the correct ones
  }
  return double(hit) / double(subsets);
}

TEST(PassAtK, MatchesTheDefinition) {
  for (int n = 1; n <= 12; ++n) {
    for (int c = 0; c <= n; ++c) {
      for (int k = 1; k <= n; ++k) {
        EXPECT_NEAR(pass_at_k(n, c, k), enumerate_pass_at_k(n, c, k), 1e-12) << n << " " << c << " " << k;
      }
    }
  }
  EXPECT_DOUBLE_EQ(pass_at_k(10, 3, 1), 0.3);
  // Large n does not overflow: pass@1 is c / n.
  EXPECT_NEAR(pass_at_k(100000, 2500, 1), 0.025, 1e-12);
  opd::testing::expect_error([] { pass_at_k(4, 5, 1); }, {"pass_at_k", "c 5"});
  opd::testing::expect_error([] { pass_at_k(4, 1, 5); }, {"k 5"});
}

TEST(EvalReport, AveragesPerDomainAndOverall) {
  std::vector<ProblemOutcome> outcomes = {
      {1, "math", 4, 4}, {2, "math", 4, 0}, {3, "code", 4, 1}, {4, "code", 4, 2}};
  auto report = summarize(outcomes, 4, {1, 4});
  ASSERT_EQ(report.rows.size(), 3u);
  EXPECT_EQ(report.rows[0].domain, "all");
  EXPECT_EQ(report.rows[0].problems, 4);
  EXPECT_DOUBLE_EQ(report.rows[0].avg_at_k, 7.0 / 16.0);
  EXPECT_DOUBLE_EQ(report.rows[0].pass_at.at(1), 7.0 / 16.0);  // pass@1 is avg@k
  EXPECT_DOUBLE_EQ(report.rows[0].pass_at.at(4), 3.0 / 4.0);
  EXPECT_EQ(report.rows[1].domain, "math");
  EXPECT_DOUBLE_EQ(report.rows[1].pass_at.at(4), 0.5);
  EXPECT_EQ(report.rows[2].domain, "code");
  EXPECT_DOUBLE_EQ(report.rows[2].avg_at_k, 3.0 / 8.0);
  auto json = nlohmann::json::parse(report_json(report, outcomes));
  EXPECT_EQ(json.at("rows")[0].at("pass@4").get<double>(), 0.75);
  EXPECT_EQ(json.at("problems").size(), 4u);
  const auto table = report_table(report);
  EXPECT_NE(table.find("pass@4"), std::string::npos);
  EXPECT_NE(table.find("code"), std::string::npos);
  opd::testing::expect_error([&] { summarize(outcomes, 4, {5}); }, {"pass@5"});
  opd::testing::expect_error([&] { summarize({{1, "", 3, 1}}, 4, {1}); }, {"line 1", "3 samples"});
}

}  // namespace
}  // namespace opd::eval
