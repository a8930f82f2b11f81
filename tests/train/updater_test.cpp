// The update stage on its own: clipping to the configured norm, the
// schedule's learning rate, AdamW, and no weight change on a non-finite step.
#include "opd/train/updater.h"

#include "opd/train/adamw.h"
#include "opd/train/lr_schedule.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace opd::train {
namespace {

struct Params {
  at::Tensor weight = at::arange(6, at::kFloat).view({2, 3}).div(10).requires_grad_();
  at::Tensor bias = at::tensor({0.5f, -0.25f}).requires_grad_();

  std::vector<at::Tensor> all() const { return {weight, bias}; }
  void set_grads(float scale) {
    weight.mutable_grad() = at::full({2, 3}, 3.0f * scale);
    bias.mutable_grad() = at::tensor({4.0f * scale, 0.0f});
  }
};

OptimConfig optim() {
  OptimConfig o;
  o.lr = 0.1;
  o.weight_decay = 0.01;
  o.grad_clip = 1.0;
  o.warmup_steps = 2;
  o.schedule = LrSchedule::kCosine;
  return o;
}

TEST(Updater, ClipsAtTheSchedulesRateThenZeroesTheGradients) {
  Params p, ref;
  Updater updater(p.all(), optim(), /*total_steps=*/10, nullptr, 25.0);
  EXPECT_EQ(updater.optimizer_shards(), 0);
  p.set_grads(1.0f);
  Metrics m;
  m.add("kl_k1", 2.0, 4.0);
  const auto u = updater.update(/*step=*/1, /*local_loss=*/0.75, m);
  // The norm before clipping, by hand: sqrt(6 * 3^2 + 4^2).
  EXPECT_NEAR(u.grad_norm, std::sqrt(6 * 9.0 + 16.0), 1e-5);
  EXPECT_DOUBLE_EQ(u.lr, learning_rate(optim(), 1, 10));
  EXPECT_TRUE(u.applied);
  EXPECT_EQ(u.loss, 0.75);
  EXPECT_EQ(m.value("kl_k1"), 0.5);  // one process: metrics pass through
  // The same update by hand: gradients scaled to norm 1, one AdamW step.
  ref.set_grads(float(1.0 / u.grad_norm));
  AdamW adamw(ref.all(), AdamWOptions{0.9, 0.999, 1e-8, 0.01});
  adamw.step(u.lr);
  EXPECT_TRUE(at::allclose(p.weight, ref.weight, 1e-6, 1e-7));
  EXPECT_TRUE(at::allclose(p.bias, ref.bias, 1e-6, 1e-7));
  EXPECT_FALSE(at::equal(p.weight, Params().weight));
  EXPECT_EQ(p.weight.grad().abs().sum().item<float>(), 0.f);
  EXPECT_EQ(p.bias.grad().abs().sum().item<float>(), 0.f);
}

TEST(Updater, ANonFiniteLossOrGradientChangesNoWeight) {
  for (bool nan_loss : {true, false}) {
    SCOPED_TRACE(nan_loss ? "NaN loss" : "infinite gradient");
    Params p;
    const auto before_w = p.weight.detach().clone(), before_b = p.bias.detach().clone();
    Updater updater(p.all(), optim(), 10, nullptr, 25.0);
    p.set_grads(nan_loss ? 1.0f : std::numeric_limits<float>::infinity());
    Metrics m;
    const auto u = updater.update(0, nan_loss ? std::numeric_limits<double>::quiet_NaN() : 1.0, m);
    EXPECT_FALSE(u.applied);
    EXPECT_TRUE(at::equal(p.weight, before_w));
    EXPECT_TRUE(at::equal(p.bias, before_b));
    EXPECT_EQ(p.bias.grad().abs().sum().item<float>(), 0.f);
    // The next finite step updates as usual.
    p.set_grads(1.0f);
    EXPECT_TRUE(updater.update(1, 1.0, m).applied);
    EXPECT_FALSE(at::equal(p.weight, before_w));
  }
}

}  // namespace
}  // namespace opd::train
