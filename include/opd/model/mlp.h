// SwiGLU feed-forward: down(silu(gate(x)) * up(x)).
#pragma once

#include "opd/model/model_config.h"
#include "opd/model/projection.h"

#include <torch/nn/module.h>

namespace opd::model {

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const ModelConfig& config);
  at::Tensor forward(const at::Tensor& x);  // [..., hidden] -> [..., hidden]

  Projection gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace opd::model
