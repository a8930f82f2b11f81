// Wall-clock seconds since a start, for the timings runs report
// (time_rollout_s, tokens_per_s, ...); steady, so clock changes do not show.
#pragma once

#include <chrono>

namespace opd {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace opd
