#include "opd/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace opd::train {

double learning_rate(const OptimConfig& optim, int64_t step, int64_t total_steps) {
  if (step < optim.warmup_steps) return optim.lr * double(step + 1) / double(optim.warmup_steps);
  switch (optim.schedule) {
    case LrSchedule::kConstant: return optim.lr;
    case LrSchedule::kCosine: {
      const double span = std::max<int64_t>(1, total_steps - optim.warmup_steps);
      const double progress = std::min(1.0, double(step - optim.warmup_steps) / span);
      const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
      return optim.lr * (optim.min_lr_ratio + (1.0 - optim.min_lr_ratio) * cosine);
    }
  }
  return optim.lr;
}

}  // namespace opd::train
