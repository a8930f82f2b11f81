// RMSNorm as in HF's Qwen/Llama: normalise in fp32, cast back, then scale.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace opd::model {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  // x [..., dim] -> same shape and dtype.
  at::Tensor forward(const at::Tensor& x);

  at::Tensor weight;  // [dim]

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

}  // namespace opd::model
