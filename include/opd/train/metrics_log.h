// Metrics of each step as one JSON line in <run_dir>/metrics.jsonl.
#pragma once

#include "opd/core/metrics.h"

#include <fstream>
#include <string>

namespace opd::train {

class MetricsLog {
 public:
  // Opens (truncates) `path`; throws naming it when it cannot be written.
  explicit MetricsLog(const std::string& path);
  // {"step": step, "<name>": value, ...}, flushed so a crash loses nothing written.
  void write(int64_t step, const Metrics& metrics);

 private:
  std::ofstream out_;
  std::string path_;
};

}  // namespace opd::train
