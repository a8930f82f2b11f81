// Data-parallel gradient summation that overlaps backward: parameters are
// grouped into buckets in reverse order (backward produces the last layers'
// gradients first), and a bucket's all-reduce starts as soon as backward has
// accumulated every gradient in it. Buckets start in the same order on every
// rank, as collectives must.
#pragma once

#include "opd/dist/communicator.h"

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

namespace opd::dist {

class GradientSync {
 public:
  // `params` in the same order on every rank.
  GradientSync(std::shared_ptr<Communicator> comm, std::vector<at::Tensor> params, int64_t bucket_bytes);
  ~GradientSync();

  // Arms the hooks for the next backward (the step's last micro-batch: earlier
  // ones only accumulate locally).
  void arm();
  // Starts the buckets backward did not complete, waits for all, and writes
  // each sum into its gradients. Returns how many buckets had started during
  // backward.
  int64_t finish();

  int64_t buckets() const;

  struct State;  // shared with the autograd hooks (gradient_sync.cpp)

 private:
  std::shared_ptr<State> state_;
};

}  // namespace opd::dist
