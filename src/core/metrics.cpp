#include "opd/core/metrics.h"

#include <c10/util/Exception.h>

namespace opd {

void Metrics::add(const std::string& name, double sum, double count) {
  auto& e = entries_[name];
  e.sum += sum;
  e.count += count;
}

void Metrics::add_total(const std::string& name, double value) {
  auto& e = entries_[name];
  e.sum += value;
  e.total = true;
}

void Metrics::merge(const Metrics& other) {
  for (const auto& [name, e] : other.entries_) {
    auto& mine = entries_[name];
    mine.sum += e.sum;
    mine.count += e.count;
    mine.total = e.total;
  }
}

double Metrics::value(const std::string& name) const {
  auto it = entries_.find(name);
  TORCH_CHECK(it != entries_.end(), "Metrics: no metric named '", name, "'");
  const Entry& e = it->second;
  if (e.total) return e.sum;
  return e.count > 0 ? e.sum / e.count : 0.0;
}

}  // namespace opd
