#include "opd/train/metrics_log.h"

#include "opd/core/atomic_file.h"

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cmath>
#include <cstring>

namespace opd::train {

MetricsLog::MetricsLog(const std::string& path, int64_t keep_before_step) : path_(path) {
  std::string kept;
  if (keep_before_step > 0) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
          j["step"].get<int64_t>() < keep_before_step) {
        kept += line + "\n";
        last_kept_step_ = j["step"].get<int64_t>();
        last_kept_values_.clear();
        for (const auto& [name, v] : j.items()) {
          if (name != "step" && v.is_number()) last_kept_values_.emplace_back(name, v.get<double>());
        }
      }
    }
  }
  // The kept lines replace the file atomically: a run killed here still has them.
  write_file_atomically(path, kept);
  out_.open(path, std::ios::app);
  TORCH_CHECK(out_.is_open(), "cannot write metrics to '", path, "': ", std::strerror(errno));
}

namespace {

nlohmann::json metrics_line(int64_t step, const Metrics& metrics) {
  nlohmann::json line = {{"step", step}};
  for (const auto& [name, entry] : metrics.entries()) {
    const double v = metrics.value(name);
    line[name] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  }
  return line;
}

}  // namespace

void MetricsLog::write(int64_t step, const Metrics& metrics) { write_line(metrics_line(step, metrics)); }

void MetricsLog::write(int64_t step, const Metrics& metrics, const std::string& key, const nlohmann::json& value) {
  auto line = metrics_line(step, metrics);
  line[key] = value;
  write_line(line);
}

void MetricsLog::write_line(const nlohmann::json& line) {
  errno = 0;
  out_ << line.dump() << '\n';
  out_.flush();
  TORCH_CHECK(out_.good(), "writing metrics to '", path_, "' failed",
              errno != 0 ? std::string(": ") + std::strerror(errno) : std::string());
}

const std::vector<std::pair<std::string, double>>& MetricsLog::kept_values(int64_t step) const {
  static const std::vector<std::pair<std::string, double>> none;
  return step == last_kept_step_ ? last_kept_values_ : none;
}

}  // namespace opd::train
