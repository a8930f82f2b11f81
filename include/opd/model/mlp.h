// SwiGLU feed-forward: down(silu(gate(x)) * up(x)).
#pragma once

#include "opd/model/model_config.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace opd::model {

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const ModelConfig& config);
  at::Tensor forward(const at::Tensor& x);  // [..., hidden] -> [..., hidden]

  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace opd::model
