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

// The norm of batch B's mean gradient over batch B/4's, predicted from the
// cosine c between the gradients of two halves of batch B. Each sample's
// gradient is the mean g plus independent noise of variance s^2: a half
// (B/2 samples) has |g|^2 + 2 s^2 / B, two halves' dot product |g|^2, so
// c = 1 / (1 + 2x) with x = s^2 / (B |g|^2), and the ratio is
// sqrt((1 + x) / (1 + 4x)): 1 without noise, 0.5 for pure noise (c <= 0).
double noise_ratio_from_split_cosine(double c);

enum class Verdict { kReproduced, kReversed, kNotDistinguishable, kNotTested };
const char* verdict_name(Verdict v);  // "reproduced", "reversed", "not distinguishable at this budget", "not tested"

struct GateOutcome {
  bool configured = false;
  bool passed = true;
  double split_cosine = 0;       // grad_split_cosine, mean over the gate row's steps and seeds
  int64_t cosine_seeds = 0;
  double noise_ratio = 0;        // noise_ratio_from_split_cosine(split_cosine)
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

// The gate row's training curves, by seed (empty when the suite has no gate).
struct GateCurves {
  std::map<uint64_t, std::vector<double>> divergence;    // the gate's metric, per step
  std::map<uint64_t, std::vector<double>> split_cosine;  // grad_split_cosine, per step
};

// Claims whose rows lack results are listed with n = 0 and "not tested".
VerdictTable make_verdicts(const Suite& suite, const std::vector<RowResult>& results, const GateCurves& gate_curves);

// A Markdown section: the gate line, then one table line per claim.
std::string verdicts_markdown(const VerdictTable& table, const Suite& suite);

}  // namespace opd::paper
