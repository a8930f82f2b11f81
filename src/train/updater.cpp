#include "opd/train/updater.h"

#include "opd/core/stopwatch.h"
#include "opd/dist/communicator.h"
#include "opd/dist/gradient_sync.h"
#include "opd/dist/zero_one.h"
#include "opd/train/lr_schedule.h"

#include <spdlog/spdlog.h>

#include <cmath>

namespace opd::train {
namespace {

// Every trainable gradient in one flat fp32 vector (zeros where none was made).
at::Tensor flat_gradients(const std::vector<at::Tensor>& trainable) {
  std::vector<at::Tensor> parts;
  for (const auto& p : trainable) {
    parts.push_back(p.grad().defined() ? p.grad().detach().reshape(-1).to(at::kFloat)
                                       : at::zeros({p.numel()}, p.options().dtype(at::kFloat)));
  }
  return at::cat(parts);
}

}  // namespace

Updater::Updater(std::vector<at::Tensor> trainable, const OptimConfig& optim, int64_t total_steps,
                 std::shared_ptr<dist::Communicator> comm, double bucket_mb)
    : trainable_(std::move(trainable)), optim_(optim), total_steps_(total_steps), comm_(std::move(comm)) {
  const int64_t world = comm_ ? comm_->world_size() : 1;
  auto updated = trainable_;
  if (optim_.zero_stage == 1 && world > 1) {
    shards_ = std::make_unique<dist::ZeroOneShards>(trainable_, world);
    updated = shards_->owned_by(comm_->rank());
  }
  if (comm_ && world > 1) {
    grad_sync_ = std::make_unique<dist::GradientSync>(comm_, trainable_, static_cast<int64_t>(bucket_mb * (1 << 20)));
  }
  optimizer_ = std::make_unique<AdamW>(updated, AdamWOptions{optim_.beta1, optim_.beta2, optim_.eps, optim_.weight_decay});
}

Updater::~Updater() = default;

int64_t Updater::optimizer_shards() const { return shards_ ? comm_->world_size() : 0; }

void Updater::zero_grad() {
  for (auto& p : trainable_) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
}

void Updater::keep_first_half_gradient() { first_half_ = flat_gradients(trainable_); }

void Updater::arm_gradient_sync() {
  if (grad_sync_) grad_sync_->arm();
}

UpdateOutcome Updater::update(int64_t step, double local_loss, Metrics& metrics) {
  UpdateOutcome out;
  out.loss = local_loss;
  const Stopwatch sums;
  if (comm_) {
    if (grad_sync_) metrics.set("comm_buckets_overlapped", double(grad_sync_->finish()));
    out.loss = comm_->sum(local_loss, "loss");
    sum_metrics_over_ranks(metrics);
  }
  if (first_half_.defined()) {
    if (comm_) comm_->wait(*comm_->start_all_reduce_sum(first_half_), "the gradient's first half");
    const auto second_half = flat_gradients(trainable_) - first_half_;
    const double dot = (first_half_.to(at::kDouble) * second_half.to(at::kDouble)).sum().item<double>();
    const double norms = first_half_.to(at::kDouble).norm().item<double>() * second_half.to(at::kDouble).norm().item<double>();
    if (norms > 0 && std::isfinite(dot / norms)) metrics.set("grad_split_cosine", dot / norms);
    first_half_ = at::Tensor();
  }
  out.comm_seconds = sums.seconds();
  out.grad_norm = clip_grad_norm(trainable_, optim_.grad_clip);
  out.lr = learning_rate(optim_, step, total_steps_);
  out.applied = std::isfinite(out.loss) && std::isfinite(out.grad_norm);
  if (out.applied) {
    optimizer_->step(out.lr);
    if (shards_) {
      const Stopwatch gather;
      shards_->all_gather(*comm_);
      out.comm_seconds += gather.seconds();
    }
  } else {
    spdlog::warn("step {}: non-finite loss ({}) or gradient norm ({}); update skipped", step, out.loss,
                 out.grad_norm);
  }
  zero_grad();
  return out;
}

void Updater::sum_metrics_over_ranks(Metrics& metrics) {
  std::vector<double> flat;
  for (const auto& [name, e] : metrics.entries()) {
    flat.push_back(e.sum);
    flat.push_back(e.count);
  }
  const double keys = double(metrics.entries().size());
  TORCH_CHECK(comm_->max(keys, "metrics") == keys && comm_->sum(keys, "metrics") == keys * double(comm_->world_size()),
              "rank ", comm_->rank(), ": the ranks logged different metrics this step");
  flat = comm_->sum(flat, "metrics");
  Metrics global;
  size_t i = 0;
  for (const auto& [name, e] : metrics.entries()) {
    if (e.total) {
      global.add_total(name, flat[i]);
    } else {
      global.add(name, flat[i], flat[i + 1]);
    }
    i += 2;
  }
  metrics = global;
}

}  // namespace opd::train
