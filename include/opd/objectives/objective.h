// The interface every distillation objective implements (DESIGN §4). The
// trainer fills ObjectiveInputs with what needs() asks for and never knows
// which objective it runs.
#pragma once

#include "opd/core/metrics.h"

#include <ATen/ATen.h>

#include <string_view>

namespace opd {

// What an objective asks the scoring passes for.
struct ObjectiveNeeds {
  bool teacher_logprobs = false;    // tau_t
  bool reference_logprobs = false;  // r_t
};

// Everything is aligned (core/token_alignment.h): position t is the prediction
// of token t+1; shapes are [B, T-1] unless noted.
struct ObjectiveInputs {
  at::Tensor student_logits;  // [B, T-1, V], requires grad
  at::Tensor targets;         // int64, the tokens being scored
  at::Tensor source;          // int8 TokenSource of each target
  at::Tensor loss_mask;       // float, 1 where the target trains
  // loss_mask scaled by the normaliser (DESIGN §3, global over micro-batches
  // and ranks): an objective's loss is sum_t l_t * token_weight_t.
  at::Tensor token_weight;
  at::Tensor teacher_logprobs;    // fp32 tau_t (when needs().teacher_logprobs)
  at::Tensor reference_logprobs;  // fp32 r_t (when needs().reference_logprobs)
};

struct ObjectiveOutput {
  at::Tensor loss;  // scalar, differentiable in student_logits
  Metrics metrics;  // diagnostics as (sum, count) over this micro-batch's tokens
};

class Objective {
 public:
  virtual ~Objective() = default;
  virtual std::string_view name() const = 0;
  virtual ObjectiveNeeds needs() const = 0;
  virtual ObjectiveOutput compute(const ObjectiveInputs& in) = 0;
};

}  // namespace opd
