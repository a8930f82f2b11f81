#include "opd/core/metrics.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <vector>

namespace opd {

void Metrics::add(const std::string& name, double sum, double count) {
  auto& e = entries_[name];
  e.sum += sum;
  e.count += count;
}

void Metrics::add(const std::string& name, const at::Tensor& sum, const at::Tensor& count) {
  add_pending(name, sum, count, false);
}

void Metrics::add_total(const std::string& name, double value) {
  auto& e = entries_[name];
  e.sum += value;
  e.total = true;
}

void Metrics::add_total(const std::string& name, const at::Tensor& value) { add_pending(name, value, {}, true); }

void Metrics::set(const std::string& name, double value) {
  pending_.erase(name);
  entries_[name] = Entry{value, 1.0, false};
}

void Metrics::add_pending(const std::string& name, const at::Tensor& sum, const at::Tensor& count, bool total) {
  TORCH_CHECK(sum.numel() == 1 && (!count.defined() || count.numel() == 1), "Metrics: '", name,
              "' needs one-element tensors, got ", sum.sizes());
  auto scalar = [](const at::Tensor& t) { return t.detach().to(at::kDouble).reshape({}); };
  auto& p = pending_[name];
  p.total = total;
  if (!p.sum.defined()) {
    p.sum = scalar(sum);
    if (count.defined()) p.count = scalar(count);
    return;
  }
  p.sum = p.sum + scalar(sum).to(p.sum.device());
  if (count.defined()) p.count = p.count.defined() ? p.count + scalar(count).to(p.count.device()) : scalar(count);
}

void Metrics::merge(const Metrics& other, const std::string& prefix) {
  for (const auto& [name, e] : other.entries_) {
    auto& mine = entries_[prefix + name];
    mine.sum += e.sum;
    mine.count += e.count;
    mine.total = e.total;
  }
  for (const auto& [name, p] : other.pending_) add_pending(prefix + name, p.sum, p.count, p.total);
}

void Metrics::read_pending() const {
  if (pending_.empty()) return;
  const auto device = pending_.begin()->second.sum.device();
  std::vector<at::Tensor> parts;
  for (const auto& [name, p] : pending_) {
    parts.push_back(p.sum.to(device));
    parts.push_back(p.count.defined() ? p.count.to(device) : at::zeros({}, p.sum.options().device(device)));
  }
  const auto host = at::stack(parts).to(at::kCPU);
  const double* v = host.data_ptr<double>();
  for (const auto& [name, p] : pending_) {
    auto& e = entries_[name];
    e.sum += *v++;
    e.count += *v++;
    e.total = p.total;
  }
  pending_.clear();
}

const std::map<std::string, Metrics::Entry>& Metrics::entries() const {
  read_pending();
  return entries_;
}

double Metrics::value(const std::string& name) const {
  read_pending();
  auto it = entries_.find(name);
  TORCH_CHECK(it != entries_.end(), "Metrics: no metric named '", name, "'");
  const Entry& e = it->second;
  if (e.total) return e.sum;
  return e.count > 0 ? e.sum / e.count : 0.0;
}

}  // namespace opd
