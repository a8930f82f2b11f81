#include "opd/model/weight_init.h"

#include <ATen/ATen.h>

namespace opd::model {
namespace {

thread_local bool active = false;
thread_local at::Device device_in_scope(at::kCPU);

}  // namespace

UninitializedWeights::UninitializedWeights(at::Device device) : outer_active_(active), outer_device_(device_in_scope) {
  active = true;
  device_in_scope = device;
}

UninitializedWeights::~UninitializedWeights() {
  active = outer_active_;
  device_in_scope = outer_device_;
}

bool weights_uninitialized() { return active; }

at::Tensor new_weight(at::IntArrayRef sizes) {
  return at::empty(sizes, at::TensorOptions().device(active ? device_in_scope : at::Device(at::kCPU)));
}

}  // namespace opd::model
