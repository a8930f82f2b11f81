// AdamW (decoupled weight decay) over plain tensors, as torch.optim.AdamW
// computes it, in fp32: moments are fp32, and bf16/fp16 parameters are
// updated through an fp32 master copy that is rounded into them after each
// step. Owning the update keeps its state ours to shard and checkpoint.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

#include <vector>

namespace opd::train {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // applied to matrices only (dim >= 2), not norms or biases
};

class AdamW {
 public:
  AdamW(std::vector<at::Tensor> params, AdamWOptions options);
  // One update of every parameter with a gradient, at learning rate `lr`.
  void step(double lr);
  void zero_grad();
  int64_t steps_taken() const { return step_; }
  // Everything a resume needs: "step" and each parameter's moments
  // ("exp_avg.<i>", "exp_avg_sq.<i>", in params() order) and fp32 master
  // weights ("master.<i>") of reduced-precision parameters.
  std::map<std::string, at::Tensor> state() const;
  // Restores a state() of an optimizer over parameters of the same shapes;
  // throws naming the first tensor that is missing or of another shape.
  void load_state(const std::map<std::string, at::Tensor>& state);
  const std::vector<at::Tensor>& params() const { return params_; }

 private:
  std::vector<at::Tensor> params_, exp_avg_, exp_avg_sq_;
  std::vector<at::Tensor> master_;  // fp32 copy of a bf16/fp16 parameter; undefined for fp32 ones
  AdamWOptions options_;
  int64_t step_ = 0;
};

// L2 norm over all gradients together (fp32); undefined grads count as zero.
double global_grad_norm(const std::vector<at::Tensor>& params);
// Scales gradients so their global norm is at most max_norm (when > 0 and
// the norm is finite); returns the norm before clipping.
double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace opd::train
