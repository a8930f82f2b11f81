// Metrics of each step as one JSON line in <run_dir>/metrics.jsonl.
#pragma once

#include "opd/core/metrics.h"

#include <nlohmann/json_fwd.hpp>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace opd::train {

class MetricsLog {
 public:
  // Opens `path`, keeping the lines of steps before `keep_before_step` (a
  // resumed run's history; 0 truncates); throws naming it when it cannot be written.
  explicit MetricsLog(const std::string& path, int64_t keep_before_step = 0);
  // {"step": step, "<name>": value, ...}, flushed so a crash loses nothing written.
  void write(int64_t step, const Metrics& metrics);
  // The same line with one more field, `key`: `value` (e.g. eval's samples).
  void write(int64_t step, const Metrics& metrics, const std::string& key, const nlohmann::json& value);
  // The numbers of the last kept line when its step is `step` (else empty):
  // what a resumed run logs again where TensorBoard drops the earlier file's.
  const std::vector<std::pair<std::string, double>>& kept_values(int64_t step) const;

 private:
  void write_line(const nlohmann::json& line);

  std::ofstream out_;
  std::string path_;
  int64_t last_kept_step_ = -1;
  std::vector<std::pair<std::string, double>> last_kept_values_;  // the last kept line's numbers
};

}  // namespace opd::train
