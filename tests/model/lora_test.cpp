// LoRA adapters: a fresh adapter changes nothing; a trained one merges into
// exactly the dense model it replaces, and saved models are plain HF ones.
#include "opd/model/lora.h"
#include "opd/model/pretrained.h"
#include "opd/model/tiny_model.h"
#include "support/test_support.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <ATen/core/grad_mode.h>

namespace opd::model {
namespace {

using opd::testing::ScratchDir;

CausalLM tiny(Architecture arch = Architecture::kQwen3) {
  TinyModelSpec spec;
  spec.architecture = arch;
  spec.seed = 3;
  spec.init_std = 0.1;
  return make_tiny_model(spec);
}

at::Tensor logits(CausalLM& m, const at::Tensor& ids) {
  at::NoGradGuard no_grad;
  const auto positions = at::arange(ids.size(1)).unsqueeze(0).expand_as(ids).contiguous();
  return m->forward(ids, positions, at::ones_like(ids));
}

TEST(Lora, MergedModelEqualsTheAdaptedOne) {
  for (auto arch : {Architecture::kQwen3, Architecture::kQwen2, Architecture::kLlama}) {
    SCOPED_TRACE(static_cast<int>(arch));
    auto model = tiny(arch);
    const auto ids = at::randint(256, {2, 7}, at::kLong);
    const auto dense = logits(model, ids);
    LoraSpec spec;
    spec.rank = 4;
    spec.alpha = 8;
    EXPECT_EQ(add_lora(model, spec, 1), 2 * 7) << "7 projections in each of 2 layers";
    EXPECT_TRUE(at::equal(logits(model, ids), dense)) << "B = 0: a fresh adapter changes nothing";

    // "Train" the adapters: random B.
    const auto adapters = lora_weights(model);
    EXPECT_EQ(adapters.size(), 2u * 2 * 7);
    {
      at::NoGradGuard no_grad;
      for (auto& [name, t] : adapters) {
        if (name.find("lora_B") != std::string::npos) t.normal_(0, 0.05);
      }
    }
    const auto adapted = logits(model, ids);
    EXPECT_GT((adapted - dense).abs().max().item<double>(), 1e-3) << "the adapters should matter";
    for (const auto& [name, t] : named_weights(model)) EXPECT_FALSE(is_lora_weight(name)) << name;

    ScratchDir dir("opd-lora");
    save_pretrained(model, dir / "merged");
    auto merged = load_pretrained(dir / "merged");  // a plain model: no adapter tensors in the directory
    EXPECT_TRUE(lora_weights(merged).empty());
    EXPECT_TRUE(at::allclose(logits(merged, ids), adapted, 1e-5, 1e-5))
        << (logits(merged, ids) - adapted).abs().max().item<double>();
  }
}

TEST(Lora, OnlyTheTargetsGetAdaptersAndUnknownTargetsAreNamed) {
  auto model = tiny();
  LoraSpec spec;
  spec.rank = 2;
  spec.targets = {"q_proj", "down_proj"};
  EXPECT_EQ(add_lora(model, spec, 1), 4);
  for (const auto& [name, t] : lora_weights(model)) {
    EXPECT_TRUE(name.find("q_proj") != std::string::npos || name.find("down_proj") != std::string::npos) << name;
  }
  EXPECT_EQ(lora_weights(model).at("model.layers.0.self_attn.q_proj.lora_A").sizes(), (at::IntArrayRef{2, 64}));
  spec.targets = {"lm_head"};
  opd::testing::expect_error([&] { add_lora(model, spec, 1); }, {"lora.targets", "lm_head"});
}

}  // namespace
}  // namespace opd::model
