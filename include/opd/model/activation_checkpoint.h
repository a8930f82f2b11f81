// Activation checkpointing: run a block without keeping its intermediate
// activations, and recompute them in backward. Memory per block drops to its
// input; the price is one more forward of the block.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

namespace opd::model {

// y = block(x), differentiable with respect to x and `params` (every tensor
// `block` reads that needs a gradient), with only x kept for backward. The
// CPU random state is saved and restored around the recompute, so dropout
// inside the block draws the same masks twice. Without grad mode, just block(x).
at::Tensor checkpointed(const std::function<at::Tensor(const at::Tensor&)>& block, const at::Tensor& x,
                        const std::vector<at::Tensor>& params);

}  // namespace opd::model
