#include "opd/paper/results_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace opd::paper {
namespace {

constexpr const char* kLastStep = "last step";

std::string format_stat(const Stat& s) {
  if (s.n == 0) return "–";
  if (s.n == 1) return fmt::format("{:.3f}", s.mean);
  return fmt::format("{:.3f} ± {:.3f}", s.mean, s.std);
}

}  // namespace

std::optional<double> column_value(const RowResult& r, const TableColumn& c) {
  if (c.domain == kLastStep) {
    const auto it = r.last_step.find(c.score);
    if (it == r.last_step.end()) return std::nullopt;
    return it->second;
  }
  const auto split = r.splits.find(c.split);
  if (split == r.splits.end()) return std::nullopt;
  for (const auto& row : split->second.rows) {
    if (row.domain != c.domain) continue;
    if (c.score == "avg@" + std::to_string(split->second.k)) return row.avg_at_k;
    for (const auto& [j, v] : row.pass_at) {
      if (c.score == "pass@" + std::to_string(j)) return v;
    }
  }
  return std::nullopt;
}

Stat mean_std(const std::vector<double>& values) {
  Stat s;
  s.n = static_cast<int64_t>(values.size());
  if (s.n == 0) return s;
  for (double v : values) s.mean += v;
  s.mean /= double(s.n);
  if (s.n > 1) {
    double sq = 0;
    for (double v : values) sq += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(sq / double(s.n - 1));
  }
  return s;
}

std::string TableColumn::header() const {
  if (domain == kLastStep) return score + " (last step)";
  return split + "/" + domain + " " + score;
}

ResultsTable make_results_table(const Suite& suite, const std::vector<RowResult>& results) {
  ResultsTable table;
  table.title = suite.title;
  table.sweep = suite.sweep;
  // Columns: each split's domains in the order its first result lists them.
  for (const auto& [split, file] : suite.eval.splits) {
    const eval::EvalReport* report = nullptr;
    for (const auto& r : results) {
      if (auto it = r.splits.find(split); it != r.splits.end()) {
        report = &it->second;
        break;
      }
    }
    if (!report) continue;
    for (const auto& row : report->rows) {
      table.columns.push_back({split, row.domain, "avg@" + std::to_string(report->k)});
      for (const auto& [j, v] : row.pass_at) {
        if (j != 1 || report->k == 1) table.columns.push_back({split, row.domain, "pass@" + std::to_string(j)});
      }
    }
  }
  for (const auto& metric : suite.curves) table.columns.push_back({"train", kLastStep, metric});

  std::vector<std::pair<std::string, bool>> order;
  for (const auto& b : suite.baselines) order.emplace_back(b.name, true);
  for (const auto& r : suite.rows) order.emplace_back(r.name, false);
  for (const auto& [name, baseline] : order) {
    std::vector<const RowResult*> seeds;
    for (const auto& r : results) {
      if (r.row == name && r.baseline == baseline) seeds.push_back(&r);
    }
    if (seeds.empty()) continue;
    TableLine line;
    line.row = name;
    line.baseline = baseline;
    line.seeds = static_cast<int64_t>(seeds.size());
    line.sweep_value = seeds.front()->sweep_value;
    for (const auto& column : table.columns) {
      std::vector<double> values;
      for (const auto* r : seeds) {
        if (auto v = column_value(*r, column)) values.push_back(*v);
      }
      line.cells.push_back(mean_std(values));
    }
    std::vector<double> seconds;
    for (const auto* r : seeds) seconds.push_back(r->train_seconds);
    line.train_seconds = mean_std(seconds);
    table.lines.push_back(std::move(line));
  }
  return table;
}

std::string results_markdown(const ResultsTable& table, const Suite& suite) {
  std::string out = "# " + table.title + "\n\n| method |";
  std::string rule = "|---|";
  if (!table.sweep.empty()) {
    out += " " + table.sweep + " |";
    rule += "---:|";
  }
  for (const auto& c : table.columns) {
    out += " " + c.header() + " |";
    rule += "---:|";
  }
  out += " seeds | train s |\n" + rule + "---:|---:|\n";
  for (const auto& line : table.lines) {
    out += "| " + (line.baseline ? "*" + line.row + "* (as is)" : line.row) + " |";
    if (!table.sweep.empty()) out += " " + (line.sweep_value.empty() ? "–" : line.sweep_value) + " |";
    for (const auto& cell : line.cells) out += " " + format_stat(cell) + " |";
    out += fmt::format(" {} | {:.0f} |\n", line.seeds, line.train_seconds.mean);
  }
  std::string seeds;
  for (auto s : suite.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(s);
  out += fmt::format(
      "\nMean ± sample standard deviation over seeds ({}). avg@{} is the mean correctness of {} samples per "
      "problem; pass@j is the unbiased estimate from those samples. Sampling: temperature {}, top-p {}, at most "
      "{} new tokens; verifier {}. Baselines (in italics) are evaluated as they are.\n",
      seeds, suite.eval.k, suite.eval.k, suite.eval.temperature, suite.eval.top_p, suite.eval.max_new_tokens,
      suite.eval.verifier);
  return out;
}

std::string results_csv(const ResultsTable& table) {
  auto quoted = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string out = "row,kind,seeds,sweep_value,train_seconds";
  for (const auto& c : table.columns) out += "," + quoted(c.header() + " mean") + "," + quoted(c.header() + " std");
  out += "\n";
  for (const auto& line : table.lines) {
    out += quoted(line.row) + "," + (line.baseline ? "baseline" : "trained") + "," + std::to_string(line.seeds) + "," +
           quoted(line.sweep_value) + fmt::format(",{:.1f}", line.train_seconds.mean);
    for (const auto& cell : line.cells) {
      out += cell.n == 0 ? ",," : fmt::format(",{:.6f},{:.6f}", cell.mean, cell.std);
    }
    out += "\n";
  }
  return out;
}

}  // namespace opd::paper
