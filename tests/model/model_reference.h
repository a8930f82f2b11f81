// An independent forward of the HF decoder, written from the math in plain
// double precision, position by position and head by head. Tests compare the
// real model against it.
#pragma once

#include "opd/model/causal_lm.h"

namespace opd::testing {

// Logits [T, V] (double) for one unpadded sequence `ids` [T] at positions 0..T-1.
at::Tensor reference_logits(model::CausalLM& model, const at::Tensor& ids);

}  // namespace opd::testing
