#include "opd/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace opd::train {

double learning_rate(const OptimConfig& optim, int64_t step, int64_t total_steps) {
  // warmup_steps wins over warmup_ratio when both are set, as in HF's Trainer.
  const int64_t warmup = optim.warmup_steps > 0 ? optim.warmup_steps
                                                : static_cast<int64_t>(std::ceil(optim.warmup_ratio * total_steps));
  if (step < warmup) return optim.lr * double(step + 1) / double(warmup);
  switch (optim.schedule) {
    case LrSchedule::kConstant: return optim.lr;
    case LrSchedule::kCosine: {
      const double span = std::max<int64_t>(1, total_steps - warmup);
      const double progress = std::min(1.0, double(step - warmup) / span);
      const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
      return optim.lr * (optim.min_lr_ratio + (1.0 - optim.min_lr_ratio) * cosine);
    }
  }
  return optim.lr;
}

}  // namespace opd::train
