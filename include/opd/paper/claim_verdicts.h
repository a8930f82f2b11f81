// A paper's claims tested on a suite's results: each claim is a paired
// comparison over seeds (the same seeds, hence the same prompts and draws,
// in both rows), reported as the mean difference with its 95 % interval and
// a verdict. A gate comes first: when the method every claim builds on does
// not visibly train at this budget (its divergence does not fall, its score
// does not rise above the untrained student), no claim is tested, and the
// table says so instead of "does not reproduce".
#pragma once

#include "opd/paper/row_result.h"
#include "opd/paper/suite.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace opd::paper {

// mean(a - b) over paired values with its two-sided 95 % Student-t interval
// (n >= 2; with fewer the interval is unbounded).
struct PairedDifference {
  int64_t n = 0;
  double mean = 0, lo = 0, hi = 0;
};
PairedDifference paired_difference(const std::vector<double>& a, const std::vector<double>& b);

// 1 - mean(last window) / mean(first window) of a training curve, the window
// a tenth of the steps (at least one): 0.3 = fell by 30 %.
double window_drop(const std::vector<double>& curve);

enum class Verdict { kReproduced, kReversed, kNotDistinguishable, kNotTested };
const char* verdict_name(Verdict v);  // "reproduced", "reversed", "not distinguishable at this budget", "not tested"

struct GateOutcome {
  bool configured = false;
  bool passed = true;
  double kl_drop = 0;            // mean over the gate row's seeds
  int64_t kl_seeds = 0;
  PairedDifference over_start;   // gate row - gate baseline on gate.score
  std::string reason;            // why it failed, "" when it passed
};

struct PremiseOutcome {
  Premise premise;
  double value = 0;   // the metric's mean, or the score's fraction of the baseline
  int64_t seeds = 0;  // 0: no result to measure it on
  bool holds = false;
};

struct ClaimOutcome {
  Claim claim;
  PairedDifference difference;  // better - than
  Verdict verdict = Verdict::kNotTested;
};

struct VerdictTable {
  GateOutcome gate;
  std::vector<PremiseOutcome> premises;
  std::vector<ClaimOutcome> claims;
};

// `gate_curves`: the gate metric's values per step, by seed, of the gate row
// (empty when the suite has no gate). Claims whose rows lack results are
// listed with n = 0 and "not tested".
VerdictTable make_verdicts(const Suite& suite, const std::vector<RowResult>& results,
                           const std::map<uint64_t, std::vector<double>>& gate_curves);

// A Markdown section: the gate line, then one table line per claim.
std::string verdicts_markdown(const VerdictTable& table, const Suite& suite);

}  // namespace opd::paper
