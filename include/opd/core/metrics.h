// Diagnostics that combine across micro-batches and ranks by addition: a mean
// is kept as (sum, count), a total as a sum. Nothing is averaged until read.
// Values added as tensors stay where they were computed (a GPU) until the
// first read, when all of them come to the host in one copy: an objective's
// diagnostics cost no host synchronisation per micro-batch.
#pragma once

#include <ATen/core/Tensor.h>

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
  // The same from one-element tensors, read when a value is.
  void add(const std::string& name, const at::Tensor& sum, const at::Tensor& count);
  // Adds to a total (e.g. a token count).
  void add_total(const std::string& name, double value);
  void add_total(const std::string& name, const at::Tensor& value);
  // Overwrites with a single value (learning rate, throughput).
  void set(const std::string& name, double value);
  // Adds every metric of `other` as "<prefix><name>", tensors still unread.
  void merge(const Metrics& other, const std::string& prefix = "");
  bool has(const std::string& name) const { return entries_.count(name) != 0 || pending_.count(name) != 0; }
  // The mean, or the sum of a total; throws when the metric was never added.
  double value(const std::string& name) const;
  const std::map<std::string, Entry>& entries() const;

 private:
  struct Pending {
    at::Tensor sum, count;  // count undefined for a total
    bool total = false;
  };
  void add_pending(const std::string& name, const at::Tensor& sum, const at::Tensor& count, bool total);
  // Folds the tensor-valued additions into entries_, in one device-to-host copy.
  void read_pending() const;

  mutable std::map<std::string, Entry> entries_;
  mutable std::map<std::string, Pending> pending_;
};

}  // namespace opd
