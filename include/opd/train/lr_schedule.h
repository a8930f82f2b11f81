// Learning rate at a step: linear warmup (warmup_steps, else warmup_ratio of
// the run), then constant or cosine decay.
#pragma once

#include "opd/train/train_config.h"

namespace opd::train {

// lr for optimizer step `step` (0-based) of `total_steps`.
double learning_rate(const OptimConfig& optim, int64_t step, int64_t total_steps);

}  // namespace opd::train
