// The model's linear layers: y = x W^T + b, with an optional LoRA adapter
// beside W, y += (alpha / r) * dropout(x) A^T B^T. A [r, in] and B [out, r]
// are the parameters "lora_A" and "lora_B"; B starts at zero, so adding an
// adapter changes no output until training moves it. Parameter names match
// torch.nn.Linear's ("weight", "bias"), so HF checkpoints load unchanged.
#pragma once

#include "opd/model/cpu_packed_linear.h"

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace opd::model {

class ProjectionImpl : public torch::nn::Module {
 public:
  ProjectionImpl(int64_t in_features, int64_t out_features, bool bias);
  at::Tensor forward(const at::Tensor& x);

  // Adds a rank-`rank` adapter (A ~ U(-1/sqrt(in), 1/sqrt(in)) from `gen`, B = 0).
  void add_lora(int64_t rank, double alpha, double dropout, at::Generator gen);
  bool has_lora() const { return lora_A.defined(); }
  // W + (alpha / r) B A in W's dtype (accumulated in fp32); W without an adapter.
  at::Tensor merged_weight() const;

  at::Tensor weight, bias, lora_A, lora_B;
  // W packed for no-grad CPU forwards while a CpuPackedWeights guard holds it.
  PackedLinear packed;

 private:
  double lora_scale_ = 0.0, lora_dropout_ = 0.0;
};
TORCH_MODULE(Projection);

}  // namespace opd::model
