#include "opd/train/metrics_log.h"

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <cmath>

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
      }
    }
  }
  out_.open(path, std::ios::trunc);
  TORCH_CHECK(out_.is_open(), "cannot write metrics to '", path, "'");
  out_ << kept;
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
