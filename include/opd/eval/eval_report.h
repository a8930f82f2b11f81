// What opd-eval reports: per problem, how many of its k samples were right;
// per domain and overall, avg@k (the mean correctness of all samples) and
// pass@j for each asked j (unbiased, averaged over problems).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace opd::eval {

struct ProblemOutcome {
  int64_t line = 0;      // the problem's line in the dataset
  std::string domain;    // "" when the dataset names none
  int64_t samples = 0;   // k
  int64_t correct = 0;   // of them
};

// One sample of a problem: its text and its verdict.
struct SampleVerdict {
  std::string response;
  bool correct = false;
};

struct ScoreRow {
  std::string domain;  // "all" for the overall row
  int64_t problems = 0;
  double avg_at_k = 0;
  std::map<int64_t, double> pass_at;  // j -> pass@j
};

struct EvalReport {
  int64_t k = 0;
  std::vector<ScoreRow> rows;  // "all" first, then each domain in order of appearance
};

// Throws when outcomes is empty, a problem has other than k samples, or a
// pass@j asks for j outside [1, k].
EvalReport summarize(const std::vector<ProblemOutcome>& outcomes, int64_t k, const std::vector<int64_t>& pass_ks);

// The report as a JSON object {"k", "rows": [...], "problems": [...], and
// what `about` holds (a JSON object's text: the model, sampling settings,
// verifier, data)}, each problem with its samples when `samples` (one list
// per outcome) is given; and as an aligned text table.
std::string report_json(const EvalReport& report, const std::vector<ProblemOutcome>& outcomes,
                        const std::string& about = "{}",
                        const std::vector<std::vector<SampleVerdict>>& samples = {});
std::string report_table(const EvalReport& report);

}  // namespace opd::eval
