// The step's update: gradient and metric sums over ranks, clipping, the
// learning rate, AdamW and, under ZeRO-1, the parameter all-gather. A step
// whose loss or gradient norm is not finite changes no weight.
#pragma once

#include "opd/core/metrics.h"
#include "opd/train/adamw.h"
#include "opd/train/train_config.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace opd::dist {
class Communicator;
class GradientSync;
class ZeroOneShards;
}  // namespace opd::dist

namespace opd::train {

struct UpdateOutcome {
  double loss = 0;       // summed over ranks
  double grad_norm = 0;  // before clipping
  double lr = 0;
  bool applied = false;  // false: non-finite, skipped
  double comm_seconds = 0;
};

class Updater {
 public:
  // `trainable` in the same order on every rank; `comm` null for one
  // process. total_steps sets the learning-rate schedule's length.
  Updater(std::vector<at::Tensor> trainable, const OptimConfig& optim, int64_t total_steps,
          std::shared_ptr<dist::Communicator> comm, double bucket_mb);
  ~Updater();

  // Every trainable tensor's gradient to zero, not only the optimizer's:
  // under ZeRO-1 a rank computes gradients for tensors another rank updates.
  void zero_grad();
  // Before the step's last backward: gradient buckets start as backward fills them.
  void arm_gradient_sync();
  // Copies the gradients accumulated so far, the first half of the step's
  // prompts: update() then logs "grad_split_cosine", the cosine between the
  // two halves' gradients summed over ranks. Both halves estimate the same
  // expected gradient with independent noise, so it is near 1 when the
  // signal dominates and near 0 when the noise does.
  void keep_first_half_gradient();
  // Sums the gradients, `local_loss` and `metrics` over ranks, clips, and
  // updates at step `step`'s learning rate; then zeroes the gradients.
  UpdateOutcome update(int64_t step, double local_loss, Metrics& metrics);

  // The ranks the optimizer state is sharded over; 0 when every rank holds all of it.
  int64_t optimizer_shards() const;
  std::map<std::string, at::Tensor> optimizer_state() const { return optimizer_->state(); }
  void load_optimizer_state(const std::map<std::string, at::Tensor>& state) { optimizer_->load_state(state); }

 private:
  // Sums every metric's (sum, count) over ranks, so rank 0 logs the global step.
  void sum_metrics_over_ranks(Metrics& metrics);

  std::vector<at::Tensor> trainable_;
  OptimConfig optim_;
  int64_t total_steps_;
  std::shared_ptr<dist::Communicator> comm_;
  std::unique_ptr<dist::ZeroOneShards> shards_;    // ZeRO-1 over more than one rank
  std::unique_ptr<dist::GradientSync> grad_sync_;  // multi-process: gradient sums overlapping backward
  std::unique_ptr<AdamW> optimizer_;
  at::Tensor first_half_;  // flat fp32 copy of the first half's gradients, while a step keeps one
};

}  // namespace opd::train
