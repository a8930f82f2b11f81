#include "opd/paper/row_result.h"

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

namespace opd::paper {

std::string row_result_json(const RowResult& r) {
  nlohmann::json j;
  j["row"] = r.row;
  j["seed"] = r.seed;
  j["baseline"] = r.baseline;
  j["train_seconds"] = r.train_seconds;
  j["eval_seconds"] = r.eval_seconds;
  j["sweep_value"] = r.sweep_value;
  j["last_step"] = r.last_step;
  auto& splits = j["splits"] = nlohmann::json::object();
  for (const auto& [name, report] : r.splits) {
    auto& s = splits[name];
    s["k"] = report.k;
    s["rows"] = nlohmann::json::array();
    for (const auto& row : report.rows) {
      nlohmann::json pass = nlohmann::json::object();
      for (const auto& [k, v] : row.pass_at) pass[std::to_string(k)] = v;
      s["rows"].push_back({{"domain", row.domain}, {"problems", row.problems}, {"avg_at_k", row.avg_at_k}, {"pass_at", pass}});
    }
  }
  return j.dump(1);
}

RowResult parse_row_result(const std::string& text, const std::string& where) {
  try {
    const auto j = nlohmann::json::parse(text);
    RowResult r;
    r.row = j.at("row").get<std::string>();
    r.seed = j.at("seed").get<uint64_t>();
    r.baseline = j.at("baseline").get<bool>();
    r.train_seconds = j.at("train_seconds").get<double>();
    r.eval_seconds = j.at("eval_seconds").get<double>();
    r.sweep_value = j.at("sweep_value").get<std::string>();
    for (const auto& [name, v] : j.at("last_step").items()) {
      if (v.is_number()) r.last_step[name] = v.get<double>();
    }
    for (const auto& [name, s] : j.at("splits").items()) {
      eval::EvalReport report;
      report.k = s.at("k").get<int64_t>();
      for (const auto& row : s.at("rows")) {
        eval::ScoreRow score;
        score.domain = row.at("domain").get<std::string>();
        score.problems = row.at("problems").get<int64_t>();
        score.avg_at_k = row.at("avg_at_k").get<double>();
        for (const auto& [k, v] : row.at("pass_at").items()) score.pass_at[std::stoll(k)] = v.get<double>();
        report.rows.push_back(score);
      }
      r.splits[name] = report;
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    TORCH_CHECK(false, where, ": not a row result: ", e.what());
  }
}

}  // namespace opd::paper
