#include "opd/model/projection.h"

#include "opd/model/weight_init.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>

namespace opd::model {

ProjectionImpl::ProjectionImpl(int64_t in_features, int64_t out_features, bool bias) {
  weight = register_parameter("weight", new_weight({out_features, in_features}));
  if (bias) this->bias = register_parameter("bias", new_weight({out_features}));
  if (weights_uninitialized()) return;  // a loader fills them
  // torch.nn.Linear's default init, for models used before any weights load.
  const double bound = 1.0 / std::sqrt(double(in_features));
  at::NoGradGuard no_grad;
  weight.uniform_(-bound, bound);
  if (bias) this->bias.uniform_(-bound, bound);
}

at::Tensor ProjectionImpl::forward(const at::Tensor& x) {
  auto y = packed.forward(x, bias);
  if (!y.defined()) y = at::linear(x, weight, bias);
  if (!has_lora()) return y;
  const auto in = lora_dropout_ > 0 && is_training() ? at::dropout(x, lora_dropout_, /*train=*/true) : x;
  return y + at::linear(at::linear(in, lora_A), lora_B) * lora_scale_;
}

void ProjectionImpl::add_lora(int64_t rank, double alpha, double dropout, at::Generator gen) {
  TORCH_CHECK(!has_lora(), "add_lora: this projection already has an adapter");
  TORCH_CHECK(rank > 0, "add_lora: rank must be > 0, got ", rank);
  const int64_t out = weight.size(0), in = weight.size(1);
  const double bound = 1.0 / std::sqrt(double(in));
  const auto options = weight.options();
  lora_A = register_parameter("lora_A", at::empty({rank, in}, options.dtype(at::kFloat)).uniform_(-bound, bound, gen)
                                            .to(options));
  lora_B = register_parameter("lora_B", at::zeros({out, rank}, options));
  lora_scale_ = alpha / double(rank);
  lora_dropout_ = dropout;
}

at::Tensor ProjectionImpl::merged_weight() const {
  if (!has_lora()) return weight;
  at::NoGradGuard no_grad;
  const auto delta = at::matmul(lora_B.to(at::kFloat), lora_A.to(at::kFloat)) * lora_scale_;
  return (weight.to(at::kFloat) + delta).to(weight.scalar_type());
}

}  // namespace opd::model
