// How the model's modules create their weights. By default they draw them
// as torch.nn does (models used before any weights load, e.g. in tests). A
// loader that overwrites every weight makes them inside an
// UninitializedWeights scope instead: empty tensors made straight on the
// target device in the default dtype, so loading a model costs no random
// draws and, on a GPU, no host copy of the whole model.
#pragma once

#include <ATen/core/TensorBody.h>
#include <c10/core/Device.h>

namespace opd::model {

class UninitializedWeights {
 public:
  explicit UninitializedWeights(at::Device device);
  ~UninitializedWeights();
  UninitializedWeights(const UninitializedWeights&) = delete;
  UninitializedWeights& operator=(const UninitializedWeights&) = delete;

 private:
  bool outer_active_;
  at::Device outer_device_;
};

// True inside an UninitializedWeights scope (on this thread).
bool weights_uninitialized();

// An empty weight: on the scope's device, else the CPU; the default dtype.
at::Tensor new_weight(at::IntArrayRef sizes);

}  // namespace opd::model
