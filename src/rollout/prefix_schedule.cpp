#include "opd/rollout/prefix_schedule.h"

#include "opd/ops/counter_uniform.h"

#include <c10/util/Exception.h>

#include <cmath>

namespace opd::rollout {

int64_t PrefixSchedule::cap(int64_t step) const {
  TORCH_CHECK(max_length >= 0 && anneal_steps > 0, "PrefixSchedule: need max_length >= 0 and anneal_steps > 0, got ",
              max_length, " and ", anneal_steps);
  if (step >= anneal_steps || step < 0) return step < 0 ? max_length : 0;
  const double pi = 3.14159265358979323846;
  return std::llround(double(max_length) * (1.0 + std::cos(pi * double(step) / double(anneal_steps))) / 2.0);
}

std::vector<int64_t> PrefixSchedule::lengths(int64_t step, int64_t rows, uint64_t seed, int64_t first_row) const {
  const int64_t c = cap(step);
  std::vector<int64_t> out(static_cast<size_t>(rows), c);
  if (!uniform || c == 0) return out;
  auto u = ops::counter_uniform(at::arange(first_row, first_row + rows, at::kLong), seed, step);
  for (int64_t r = 0; r < rows; ++r) {
    out[r] = std::min<int64_t>(c, static_cast<int64_t>(u[r].item<double>() * double(c + 1)));
  }
  return out;
}

}  // namespace opd::rollout
