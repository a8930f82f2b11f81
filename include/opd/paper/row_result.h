// What one (row, seed) of a suite produced: its scores on each benchmark
// split (per domain) and how training went. Stored as result.json in the
// row's directory; its presence marks the row done (opd-bench is resumable).
#pragma once

#include "opd/eval/eval_report.h"

#include <cstdint>
#include <map>
#include <string>

namespace opd::paper {

struct RowResult {
  std::string row;
  uint64_t seed = 0;
  bool baseline = false;       // a model evaluated as it is, not trained
  double train_seconds = 0;
  double eval_seconds = 0;
  std::map<std::string, eval::EvalReport> splits;  // benchmark name -> its report
  std::map<std::string, double> last_step;         // metrics.jsonl's last step (trained rows)
  std::string sweep_value;                         // the row's value of the suite's sweep key, "" = none
};

std::string row_result_json(const RowResult& result);
// Throws naming `where` on malformed JSON or a missing field.
RowResult parse_row_result(const std::string& json_text, const std::string& where);

}  // namespace opd::paper
