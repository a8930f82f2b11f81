#include "opd/eval/eval_report.h"

#include "opd/eval/pass_at_k.h"

#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace opd::eval {

EvalReport summarize(const std::vector<ProblemOutcome>& outcomes, int64_t k, const std::vector<int64_t>& pass_ks) {
  TORCH_CHECK(!outcomes.empty(), "summarize: no problems");
  for (int64_t j : pass_ks) TORCH_CHECK(j >= 1 && j <= k, "pass@", j, " needs 1 <= ", j, " <= k = ", k);
  EvalReport report;
  report.k = k;
  std::vector<std::string> domains = {"all"};
  for (const auto& o : outcomes) {
    TORCH_CHECK(o.samples == k, "summarize: problem at line ", o.line, " has ", o.samples, " samples, not ", k);
    if (!o.domain.empty() && std::find(domains.begin(), domains.end(), o.domain) == domains.end()) {
      domains.push_back(o.domain);
    }
  }
  if (domains.size() == 2) domains.pop_back();  // one domain: the overall row says it all
  for (const auto& domain : domains) {
    ScoreRow row;
    row.domain = domain;
    double correct = 0;
    for (const auto& o : outcomes) {
      if (domain != "all" && o.domain != domain) continue;
      ++row.problems;
      correct += double(o.correct);
      for (int64_t j : pass_ks) row.pass_at[j] += pass_at_k(o.samples, o.correct, j);
    }
    row.avg_at_k = correct / double(row.problems * k);
    for (auto& [j, v] : row.pass_at) v /= double(row.problems);
    report.rows.push_back(std::move(row));
  }
  return report;
}

std::string report_json(const EvalReport& report, const std::vector<ProblemOutcome>& outcomes,
                        const std::string& about, const std::vector<std::vector<SampleVerdict>>& samples) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : report.rows) {
    nlohmann::json row = {{"domain", r.domain}, {"problems", r.problems},
                          {fmt::format("avg@{}", report.k), r.avg_at_k}};
    for (const auto& [j, v] : r.pass_at) row[fmt::format("pass@{}", j)] = v;
    rows.push_back(row);
  }
  nlohmann::json problems = nlohmann::json::array();
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const auto& o = outcomes[i];
    nlohmann::json p = {{"line", o.line}, {"domain", o.domain}, {"samples", o.samples}, {"correct", o.correct}};
    if (i < samples.size()) {
      p["responses"] = nlohmann::json::array();
      for (const auto& s : samples[i]) p["responses"].push_back({{"response", s.response}, {"correct", s.correct}});
    }
    problems.push_back(p);
  }
  auto out = nlohmann::json::parse(about);
  out["k"] = report.k;
  out["rows"] = rows;
  out["problems"] = problems;
  // Model output may hold invalid UTF-8 (a cut multi-byte character): replaced, not thrown.
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string report_table(const EvalReport& report) {
  std::string out = fmt::format("{:<16} {:>9} {:>10}", "domain", "problems", fmt::format("avg@{}", report.k));
  for (const auto& [j, v] : report.rows.front().pass_at) out += fmt::format(" {:>10}", fmt::format("pass@{}", j));
  out += "\n";
  for (const auto& r : report.rows) {
    out += fmt::format("{:<16} {:>9} {:>10.4f}", r.domain, r.problems, r.avg_at_k);
    for (const auto& [j, v] : r.pass_at) out += fmt::format(" {:>10.4f}", v);
    out += "\n";
  }
  return out;
}

}  // namespace opd::eval
