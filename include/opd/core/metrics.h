// Diagnostics that combine across micro-batches and ranks by addition: a mean
// is kept as (sum, count), a total as a sum. Nothing is averaged until read.
#pragma once

#include <map>
#include <string>

namespace opd {

class Metrics {
 public:
  struct Entry {
    double sum = 0.0;
    double count = 0.0;
    bool total = false;  // reported as the sum (token counts), else sum / count
  };

  // Adds to a mean: `sum` over `count` items.
  void add(const std::string& name, double sum, double count);
  // Adds to a total (e.g. a token count).
  void add_total(const std::string& name, double value);
  // Overwrites with a single value (learning rate, throughput).
  void set(const std::string& name, double value) { entries_[name] = Entry{value, 1.0, false}; }
  void merge(const Metrics& other);
  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  // The mean, or the sum of a total; throws when the metric was never added.
  double value(const std::string& name) const;
  const std::map<std::string, Entry>& entries() const { return entries_; }

 private:
  std::map<std::string, Entry> entries_;
};

}  // namespace opd
