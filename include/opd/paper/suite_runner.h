// opd-bench's work: build the cast, evaluate the baselines, train and
// evaluate every (row, seed), then write the suite's table. A (row, seed)
// with a result.json is done and never rerun; one interrupted in training
// resumes from its newest checkpoint. Everything lands in the suite's out_dir:
//   tasks/  cast/  rows/<row>/seed<s>/{config.yaml, metrics.jsonl, final/, result.json}
//   results.md  results.csv  summary.json  (and PNG plots, tools/opd_bench_plot.py)
#pragma once

#include "opd/paper/row_result.h"
#include "opd/paper/suite.h"

#include <string>
#include <vector>

namespace opd::paper {

struct SuiteRunOptions {
  std::vector<std::string> only_rows;  // run just these rows (by name); empty = all
};

struct SuiteRunReport {
  int64_t cast_built = 0;
  int64_t trained = 0;    // (row, seed) pairs trained and evaluated by this call
  int64_t evaluated = 0;  // baselines evaluated by this call
  int64_t done_before = 0;  // pairs and baselines already done, skipped
  bool stopped = false;   // a stop request (SIGTERM) ended the run early; rerun to continue
};

SuiteRunReport run_suite(const Suite& suite, const SuiteRunOptions& options = {});

// Reads every result.json of the suite's baselines and rows that exist.
std::vector<RowResult> read_results(const Suite& suite);

// Writes results.md, results.csv and summary.json (what the plot script
// reads: per row its sweep value, its scores and its run directories) from
// the results present; returns the Markdown.
std::string write_tables(const Suite& suite);

// The directory a baseline's result.json goes in.
std::string baseline_dir(const Suite& suite, const std::string& name);

}  // namespace opd::paper
