// TrOPD's off-policy guidance (DESIGN §5): the teacher writes the first l
// response tokens and the student continues. The cap on l anneals from L to
// 0 over S steps, l_max(step) = L (1 + cos(pi step / S)) / 2, then training is
// purely on-policy. A pure function of the step, so a resumed run continues
// the schedule exactly.
#pragma once

#include <cstdint>
#include <vector>

namespace opd::rollout {

struct PrefixSchedule {
  int64_t max_length = 0;    // L, the cap at step 0; 0 = no guidance
  int64_t anneal_steps = 1;  // S, the step at which the cap reaches 0 (> 0)
  bool uniform = false;      // per-sample l uniform in [0, cap]; else every row gets the cap

  // l_max(step), rounded to the nearest token; 0 from step S on.
  int64_t cap(int64_t step) const;
  // The prefix length of `rows` rows at `step`: the cap, or uniform draws in
  // [0, cap] keyed by (seed, step, first_row + row) like every other draw.
  std::vector<int64_t> lengths(int64_t step, int64_t rows, uint64_t seed, int64_t first_row = 0) const;
};

}  // namespace opd::rollout
