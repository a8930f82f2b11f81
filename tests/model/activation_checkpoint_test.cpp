// Activation checkpointing: recomputing each layer in backward gives the
// gradients of the plain forward.
#include "opd/model/activation_checkpoint.h"
#include "opd/model/lora.h"
#include "opd/model/tiny_model.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <ATen/core/grad_mode.h>

#include <map>
#include <string>

namespace opd::model {
namespace {

// Checkpointed layers give the gradients of the plain forward, LoRA dropout
// included (the recompute draws the same masks).
TEST(ActivationCheckpoint, GradientsEqualThePlainForward) {
  auto run = [](bool checkpoint) {
    TinyModelSpec spec;
    spec.seed = 5;
    spec.init_std = 0.1;
    auto model = make_tiny_model(spec);
    LoraSpec lora;
    lora.rank = 2;
    lora.dropout = 0.3;
    lora.targets = {"q_proj", "up_proj"};
    add_lora(model, lora, 1);
    {
      at::NoGradGuard no_grad;
      at::manual_seed(10);
      for (auto& [name, t] : lora_weights(model)) t.normal_(0, 0.1);
    }
    model->train();
    model->model->checkpoint_layers = checkpoint;
    at::manual_seed(11);
    const auto ids = at::randint(256, {2, 9}, at::kLong);
    const auto positions = at::arange(9).unsqueeze(0).expand({2, 9}).contiguous();
    const auto weights = at::randn({2, 9, 256});
    at::manual_seed(12);
    (model->forward(ids, positions, at::ones_like(ids)) * weights).sum().backward();
    std::map<std::string, at::Tensor> grads;
    for (const auto& item : model->named_parameters()) grads[item.key()] = item.value().grad().clone();
    return grads;
  };
  const auto plain = run(false), recomputed = run(true);
  ASSERT_EQ(plain.size(), recomputed.size());
  for (const auto& [name, g] : plain) {
    EXPECT_TRUE(at::allclose(g, recomputed.at(name), 1e-5, 1e-6))
        << name << " max diff " << (g - recomputed.at(name)).abs().max().item<double>();
  }
}

}  // namespace
}  // namespace opd::model
