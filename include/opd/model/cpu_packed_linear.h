// oneDNN-packed weights for the linears of no-grad forwards on the CPU.
// LibTorch sends an fp32 at::linear to MKL's sgemm, which on this project's
// CPU machines (AMD Zen 4) runs 2-8x below oneDNN's kernels on a weight
// packed into their blocked layout once, at the few rows a decode step
// multiplies, and 1.1-1.3x below them at a scoring micro-batch's thousand
// (benchmarks/results/cpu_packed_linear.txt). Packing a weight costs one copy
// of it, so it pays for a rollout or a scoring pass, not for one call.
//
// While a CpuPackedWeights guard lives, the model's Projections and its tied
// lm_head run every no-grad CPU forward through a packed copy made when the
// guard began; the copies go with the last guard holding them. The weights
// must not change while a guard lives (rollout and scoring do not train); a
// forward with grad enabled uses the weights themselves. OPD_CPU_PACKED_LINEAR=0
// turns packing off, to measure it.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace opd::model {

class CausalLMImpl;

// One linear's packed weight, shared by the guards that hold it.
class PackedLinear {
 public:
  void hold(const at::Tensor& weight);
  void release();
  // x W^T + b through the packed weight; undefined where that does not apply
  // (nothing packed, grad mode on, x off the CPU or in another dtype).
  at::Tensor forward(const at::Tensor& x, const at::Tensor& bias) const;
  bool packed() const { return packed_.defined(); }

 private:
  at::Tensor packed_;
  int holders_ = 0;
};

class CpuPackedWeights {
 public:
  explicit CpuPackedWeights(CausalLMImpl& model);
  ~CpuPackedWeights();
  CpuPackedWeights(const CpuPackedWeights&) = delete;
  CpuPackedWeights& operator=(const CpuPackedWeights&) = delete;

  // How many linears this guard holds packed: 0 for a model off the CPU,
  // in a dtype other than fp32 and bf16, or with packing unavailable or off.
  size_t size() const { return held_.size(); }

 private:
  void release_all();
  std::vector<PackedLinear*> held_;
};

// Whether guards pack: this LibTorch has oneDNN's packed linear and
// OPD_CPU_PACKED_LINEAR is not 0. Throws std::invalid_argument, naming the
// variable, for a value other than 0 or 1.
bool cpu_linear_packing_enabled();

}  // namespace opd::model
