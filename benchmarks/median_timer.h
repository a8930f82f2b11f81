// Timing for the benchmarks: the median of repeated runs, robust to the odd
// slow run on a shared machine.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

namespace opd::bench {

inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Median wall time of `repeats` calls of fn, in seconds.
inline double median_seconds(const std::function<void()>& fn, int64_t repeats) {
  std::vector<double> t;
  for (int64_t r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return median(t);
}

}  // namespace opd::bench
