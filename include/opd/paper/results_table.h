// A suite's results as one table: a line per row (baselines first, then the
// rows in suite order), a column per (benchmark split, domain, score) with
// the mean ± sample standard deviation over the row's seeds, then the
// training time and the last step's headline metrics.
#pragma once

#include "opd/paper/row_result.h"
#include "opd/paper/suite.h"

#include <optional>
#include <string>
#include <vector>

namespace opd::paper {

struct Stat {
  double mean = 0;
  double std = 0;  // sample standard deviation (n - 1); 0 for one seed
  int64_t n = 0;
};
Stat mean_std(const std::vector<double>& values);

struct TableColumn {
  std::string split, domain, score;  // score: avg@k, pass@j, or a metric name
  std::string header() const;        // "test/arith avg@4"
};

// The value of `column` in one seed's result, if it has it.
std::optional<double> column_value(const RowResult& r, const TableColumn& c);

struct TableLine {
  std::string row;
  bool baseline = false;
  std::string sweep_value;
  int64_t seeds = 0;
  std::vector<Stat> cells;  // one per column; n == 0 where no seed has it
  Stat train_seconds;
};

struct ResultsTable {
  std::string title;
  std::string sweep;  // the sweep key, "" = none
  std::vector<TableColumn> columns;
  std::vector<TableLine> lines;
};

// Rows of the suite without any result are left out; results of rows the
// suite no longer lists are ignored.
ResultsTable make_results_table(const Suite& suite, const std::vector<RowResult>& results);

// GitHub Markdown: the title, the table (cells "0.412 ± 0.031"), then how
// it was made (k, the seeds, the sampling).
std::string results_markdown(const ResultsTable& table, const Suite& suite);
// One header line, then one line per table line: row, kind, seeds, sweep
// value, then `<header> mean` and `<header> std` for every column.
std::string results_csv(const ResultsTable& table);

}  // namespace opd::paper
