#include "opd/paper/claim_verdicts.h"

#include "opd/paper/results_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace opd::paper {
namespace {

// Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom;
// beyond, the normal's 1.96 is within 2 %.
double t_quantile_95(int64_t df) {
  static constexpr double kTable[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                      2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                      2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (df >= 1 && df <= 30) return kTable[df - 1];
  return 1.96;
}

// The results-table value of `score` ("test/all avg@4") for one result.
std::optional<double> score_of(const RowResult& r, const std::string& score) {
  const auto slash = score.find('/'), space = score.rfind(' ');
  const TableColumn column{score.substr(0, slash), score.substr(slash + 1, space - slash - 1), score.substr(space + 1)};
  return column_value(r, column);
}

// A row's (or baseline's) score by seed. A baseline is evaluated once: its
// one value pairs with every seed of the other side.
std::map<uint64_t, double> scores_by_seed(const std::vector<RowResult>& results, const std::string& name,
                                          bool baseline, const std::string& score) {
  std::map<uint64_t, double> out;
  for (const auto& r : results) {
    if (r.row != name || r.baseline != baseline) continue;
    if (auto v = score_of(r, score)) out[r.seed] = *v;
  }
  return out;
}

bool is_baseline(const Suite& suite, const std::string& name) {
  const bool row = std::any_of(suite.rows.begin(), suite.rows.end(), [&](const SuiteRow& r) { return r.name == name; });
  return !row;
}

PairedDifference compare(const std::vector<RowResult>& results, const Suite& suite, const std::string& better,
                         const std::string& than, const std::string& score) {
  const auto a = scores_by_seed(results, better, false, score);
  const bool than_baseline = is_baseline(suite, than);
  const auto b = scores_by_seed(results, than, than_baseline, score);
  std::vector<double> xs, ys;
  for (const auto& [seed, v] : a) {
    if (than_baseline && !b.empty()) {
      xs.push_back(v);
      ys.push_back(b.begin()->second);
    } else if (auto it = b.find(seed); it != b.end()) {
      xs.push_back(v);
      ys.push_back(it->second);
    }
  }
  return paired_difference(xs, ys);
}

Verdict verdict_of(const PairedDifference& d) {
  if (d.n < 2) return Verdict::kNotDistinguishable;
  if (d.lo > 0) return Verdict::kReproduced;
  if (d.hi < 0) return Verdict::kReversed;
  return Verdict::kNotDistinguishable;
}

// "falls 45 %" or "rises 8 %".
std::string change_text(double drop) {
  return fmt::format("{} {:.0f} %", drop >= 0 ? "falls" : "rises", 100 * std::abs(drop));
}

std::string difference_text(const PairedDifference& d) {
  if (d.n == 0) return "–";
  if (d.n == 1) return fmt::format("{:+.3f} (one seed: no interval)", d.mean);
  return fmt::format("{:+.3f} [{:+.3f}, {:+.3f}]", d.mean, d.lo, d.hi);
}

PremiseOutcome measure(const std::vector<RowResult>& results, const Premise& p) {
  PremiseOutcome out;
  out.premise = p;
  double sum = 0;
  if (p.of.empty()) {
    for (const auto& r : results) {
      if (r.row != p.row || r.baseline) continue;
      if (auto it = r.last_step.find(p.metric); it != r.last_step.end()) {
        sum += it->second;
        ++out.seeds;
      }
    }
  } else {
    const auto base = scores_by_seed(results, p.of, true, p.score);
    for (const auto& [seed, v] : scores_by_seed(results, p.row, false, p.score)) {
      sum += v;
      ++out.seeds;
    }
    if (base.empty() || base.begin()->second <= 0) out.seeds = 0;
    if (out.seeds) sum /= base.begin()->second;
  }
  if (out.seeds == 0) return out;
  out.value = sum / double(out.seeds);
  out.holds = out.value >= p.min && out.value <= p.max;
  return out;
}

std::string bounds_text(const Premise& p) {
  const bool low = p.min > -1e300, high = p.max < 1e300;
  if (low && high) return fmt::format("in [{:g}, {:g}]", p.min, p.max);
  return low ? fmt::format(">= {:g}", p.min) : fmt::format("<= {:g}", p.max);
}

}  // namespace

PairedDifference paired_difference(const std::vector<double>& a, const std::vector<double>& b) {
  PairedDifference d;
  const size_t n = std::min(a.size(), b.size());
  d.n = static_cast<int64_t>(n);
  if (n == 0) return d;
  std::vector<double> diffs(n);
  for (size_t i = 0; i < n; ++i) diffs[i] = a[i] - b[i];
  const Stat s = mean_std(diffs);
  d.mean = s.mean;
  if (n < 2) {
    d.lo = -std::numeric_limits<double>::infinity();
    d.hi = std::numeric_limits<double>::infinity();
    return d;
  }
  const double half = t_quantile_95(d.n - 1) * s.std / std::sqrt(double(n));
  d.lo = s.mean - half;
  d.hi = s.mean + half;
  return d;
}

double window_drop(const std::vector<double>& curve) {
  if (curve.empty()) return 0;
  const size_t w = std::max<size_t>(1, curve.size() / 10);
  double first = 0, last = 0;
  for (size_t i = 0; i < w; ++i) {
    first += curve[i];
    last += curve[curve.size() - w + i];
  }
  if (first == 0) return 0;
  return 1.0 - last / first;
}

double noise_ratio_from_split_cosine(double c) {
  if (c <= 0) return 0.5;
  const double x = (1 / std::min(c, 1.0) - 1) / 2;
  return std::sqrt((1 + x) / (1 + 4 * x));
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kReproduced: return "reproduced";
    case Verdict::kReversed: return "reversed";
    case Verdict::kNotDistinguishable: return "not distinguishable at this budget";
    case Verdict::kNotTested: return "not tested";
  }
  return "?";
}

VerdictTable make_verdicts(const Suite& suite, const std::vector<RowResult>& results, const GateCurves& gate_curves) {
  VerdictTable table;
  if (suite.gate) {
    const auto& g = *suite.gate;
    auto& out = table.gate;
    out.configured = true;
    double cosines = 0, steps = 0;
    for (const auto& [seed, curve] : gate_curves.split_cosine) {
      if (curve.empty()) continue;
      for (const double c : curve) cosines += c;
      steps += double(curve.size());
      ++out.cosine_seeds;
    }
    out.split_cosine = steps > 0 ? cosines / steps : 0;
    out.noise_ratio = noise_ratio_from_split_cosine(out.split_cosine);
    double drops = 0;
    for (const auto& [seed, curve] : gate_curves.divergence) {
      if (curve.empty()) continue;
      drops += window_drop(curve);
      ++out.kl_seeds;
    }
    out.kl_drop = out.kl_seeds ? drops / double(out.kl_seeds) : 0;
    out.over_start = compare(results, suite, g.row, g.baseline, g.score);
    if (out.cosine_seeds == 0) {
      out.reason = fmt::format("no grad_split_cosine curve of row '{}'", g.row);
    } else if (out.noise_ratio < g.min_noise_ratio) {
      out.reason = fmt::format("the gradient of '{}' is mostly noise at this batch (split-batch cosine {:.3f}: batch B's "
                               "gradient norm is {:.2f} of batch B/4's, not the {:.2f} needed)",
                               g.row, out.split_cosine, out.noise_ratio, g.min_noise_ratio);
    } else if (out.kl_seeds == 0) {
      out.reason = fmt::format("no {} curve of row '{}'", g.metric, g.row);
    } else if (out.kl_drop < g.min_drop) {
      out.reason = fmt::format("{} of '{}' {}, not the {:.0f} % fall needed", g.metric, g.row,
                               change_text(out.kl_drop), 100 * g.min_drop);
    } else if (!(out.over_start.n >= 2 && out.over_start.lo > 0)) {
      out.reason = fmt::format("'{}' is not significantly above '{}' on {}", g.row, g.baseline, g.score);
    }
    out.passed = out.reason.empty();
  }
  for (const auto& premise : suite.premises) {
    table.premises.push_back(measure(results, premise));
    const auto& m = table.premises.back();
    if (m.holds) continue;
    table.gate.configured = true;
    if (table.gate.passed) {
      table.gate.passed = false;
      table.gate.reason = m.seeds == 0 ? fmt::format("premise '{}' has no result to measure", premise.name)
                                       : fmt::format("premise '{}' does not hold", premise.name);
    }
  }
  for (const auto& claim : suite.claims) {
    ClaimOutcome c;
    c.claim = claim;
    c.difference = compare(results, suite, claim.better, claim.than, claim.score);
    c.verdict = !table.gate.passed || c.difference.n == 0 ? Verdict::kNotTested : verdict_of(c.difference);
    table.claims.push_back(c);
  }
  return table;
}

std::string verdicts_markdown(const VerdictTable& table, const Suite& suite) {
  std::string out = "\n## Claims\n\n";
  for (const auto& m : table.premises) {
    const auto& p = m.premise;
    const std::string what = p.of.empty() ? fmt::format("{}'s {} (last step)", p.row, p.metric)
                                          : fmt::format("{}'s {} as a fraction of {}'s", p.row, p.score, p.of);
    out += fmt::format("Premise '{}': {} is {} over {} seeds, needs {}: **{}**.\n\n", p.name, what,
                       m.seeds ? fmt::format("{:.3f}", m.value) : std::string("unmeasured"), m.seeds,
                       bounds_text(p), m.holds ? "holds" : "does not hold");
  }
  if (table.gate.configured && !suite.gate) {
    out += "**Gate failed**: " + table.gate.reason + "; every claim is not tested at this budget.\n\n";
  }
  if (suite.gate) {
    const auto& g = *suite.gate;
    out += fmt::format(
        "Gate: '{}' must train before any claim counts: the cosine between its gradients on two halves of a step's "
        "prompts is {:.3f} (mean over the steps of {} seeds), so batch B's gradient norm is {:.2f} of batch B/4's "
        "(needs {:.2f}; pure noise gives 0.50); its {} {} (first to last tenth of the steps, mean of {} seeds; needs "
        "to fall {:.0f} %), and '{}' - '{}' on {} is {}. **{}**{}\n\n",
        g.row, table.gate.split_cosine, table.gate.cosine_seeds, table.gate.noise_ratio, g.min_noise_ratio, g.metric,
        change_text(table.gate.kl_drop), table.gate.kl_seeds, 100 * g.min_drop, g.row, g.baseline, g.score,
        difference_text(table.gate.over_start), table.gate.passed ? "passed" : "failed",
        table.gate.passed ? "." : ": " + table.gate.reason + "; every claim is not tested at this budget.");
  } else {
    out += "No gate is set: the verdicts assume the rows trained.\n\n";
  }
  out += "| claim | better | than | score | better - than [95 % CI] | seeds | verdict |\n";
  out += "|---|---|---|---|---:|---:|---|\n";
  for (const auto& c : table.claims) {
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", c.claim.name, c.claim.better, c.claim.than,
                       c.claim.score, difference_text(c.difference), c.difference.n, verdict_name(c.verdict));
  }
  out +=
      "\nPaired over seeds (each seed's rows share prompts and draws); the interval is Student's t. Reproduced: "
      "the interval lies above 0; reversed: below; otherwise not distinguishable at this budget.\n";
  return out;
}

}  // namespace opd::paper
