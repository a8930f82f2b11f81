#include "opd/train/metrics_log.h"

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <cmath>

namespace opd::train {

MetricsLog::MetricsLog(const std::string& path) : out_(path, std::ios::trunc), path_(path) {
  TORCH_CHECK(out_.is_open(), "cannot write metrics to '", path, "'");
}

void MetricsLog::write(int64_t step, const Metrics& metrics) {
  nlohmann::json line = {{"step", step}};
  for (const auto& [name, entry] : metrics.entries()) {
    const double v = metrics.value(name);
    line[name] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  }
  out_ << line.dump() << '\n';
  out_.flush();
  TORCH_CHECK(out_.good(), "writing metrics to '", path_, "' failed");
}

}  // namespace opd::train
