// Metrics of each step as one JSON line in <run_dir>/metrics.jsonl.
#pragma once

#include "opd/core/metrics.h"

#include <fstream>
#include <string>

namespace opd::train {

class MetricsLog {
 public:
  // Opens `path`, keeping the lines of steps before `keep_before_step` (a
  // resumed run's history; 0 truncates); throws naming it when it cannot be written.
  explicit MetricsLog(const std::string& path, int64_t keep_before_step = 0);
  // {"step": step, "<name>": value, ...}, flushed so a crash loses nothing written.
  void write(int64_t step, const Metrics& metrics);

 private:
  std::ofstream out_;
  std::string path_;
};

}  // namespace opd::train
