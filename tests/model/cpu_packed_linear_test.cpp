#include "opd/model/cpu_packed_linear.h"
#include "opd/model/tiny_model.h"
#include "opd/rollout/generator.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

namespace opd::model::packed_linear_test {
namespace {

double relative_error(const at::Tensor& got, const at::Tensor& want) {
  return (got.to(at::kDouble) - want.to(at::kDouble)).norm().item<double>() / want.to(at::kDouble).norm().item<double>();
}

#define SKIP_WITHOUT_PACKING()                                                                      \
  if (!cpu_linear_packing_enabled())                                                                \
  GTEST_SKIP() << "this LibTorch has no oneDNN packed linear, or OPD_CPU_PACKED_LINEAR=0 turned it off"

CausalLM tiny(bool tied) {
  TinyModelSpec s;
  s.vocab_size = 61;
  s.hidden_size = 32;
  s.intermediate_size = 48;
  s.num_hidden_layers = 2;
  s.num_attention_heads = 4;
  s.num_key_value_heads = 2;
  s.head_dim = 8;
  s.init_std = 0.3;
  s.tie_word_embeddings = tied;
  s.seed = 11;
  return make_tiny_model(s);
}

at::Tensor ids(int64_t rows, int64_t len, int64_t vocab, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randint(vocab, {rows, len}, gen, at::kLong);
}

at::Tensor logits_of(CausalLM& model, const at::Tensor& tokens) {
  const auto mask = at::ones_like(tokens);
  return model(tokens, position_ids_from_mask(mask), mask);
}

TEST(PackedLinear, MatchesLinearInBothDtypesWithAndWithoutBias) {
  SKIP_WITHOUT_PACKING();
  at::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto weight = at::randn({40, 24}, gen), bias = at::randn({40}, gen);
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    const auto w = weight.to(dtype), b = bias.to(dtype);
    PackedLinear packed;
    packed.hold(w);
    for (const auto& shape : std::vector<std::vector<int64_t>>{{1, 24}, {7, 24}, {2, 5, 24}}) {
      const auto x = at::randn(shape, gen).to(dtype);
      // The reference: the same rounded inputs multiplied in double.
      const auto want = at::linear(x.to(at::kDouble), w.to(at::kDouble), b.to(at::kDouble));
      const auto got = packed.forward(x, b), got_unbiased = packed.forward(x, {});
      ASSERT_TRUE(got.defined());
      EXPECT_EQ(got.sizes(), want.sizes());
      EXPECT_EQ(got.scalar_type(), dtype);
      const double tolerance = dtype == at::kFloat ? 1e-6 : 1e-2;
      EXPECT_LT(relative_error(got, want), tolerance) << dtype << " " << x.sizes();
      EXPECT_LT(relative_error(got_unbiased, at::linear(x.to(at::kDouble), w.to(at::kDouble))), tolerance);
    }
    // Another dtype's input is not the packed weight's business.
    EXPECT_FALSE(packed.forward(at::randn({3, 24}, gen).to(at::kDouble), {}).defined());
    packed.release();
    EXPECT_FALSE(packed.packed());
    EXPECT_FALSE(packed.forward(at::randn({3, 24}, gen).to(dtype), {}).defined());
  }
}

TEST(PackedLinear, AnyGradModeForwardUsesTheWeightsThemselves) {
  SKIP_WITHOUT_PACKING();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(4);
  PackedLinear packed;
  packed.hold(at::randn({8, 6}, gen));
  EXPECT_FALSE(packed.forward(at::randn({2, 6}, gen), {}).defined());  // grad mode is on here
  at::NoGradGuard no_grad;
  EXPECT_TRUE(packed.forward(at::randn({2, 6}, gen), {}).defined());
}

class PackedModel : public ::testing::TestWithParam<bool> {};

TEST_P(PackedModel, AGuardPacksEveryLinearAndChangesNoLogit) {
  SKIP_WITHOUT_PACKING();
  auto model = tiny(/*tied=*/GetParam());
  const auto tokens = ids(3, 9, 61, 5);
  at::Tensor plain;
  {
    at::NoGradGuard no_grad;
    plain = logits_of(model, tokens);
  }
  {
    const CpuPackedWeights guard(*model);
    // q, k, v, o, gate, up, down per layer, and the head (tied or not).
    EXPECT_EQ(guard.size(), size_t(2 * 7 + 1));
    {
      const CpuPackedWeights nested(*model);  // e.g. scoring inside a rollout
      EXPECT_EQ(nested.size(), guard.size());
    }
    at::NoGradGuard no_grad;
    const auto packed = logits_of(model, tokens);
    EXPECT_LT(relative_error(packed, plain), 1e-5);
  }
  // The last guard took every packed copy with it.
  for (const auto& module : model->modules(/*include_self=*/false)) {
    if (auto* projection = dynamic_cast<ProjectionImpl*>(module.get())) {
      EXPECT_FALSE(projection->packed.packed());
    }
  }
  EXPECT_FALSE(model->packed_tied_head().packed());
}

TEST_P(PackedModel, GradientsUnderAGuardAreTheUnpackedOnes) {
  SKIP_WITHOUT_PACKING();
  auto model = tiny(/*tied=*/GetParam());
  const auto tokens = ids(2, 7, 61, 6);
  auto gradient = [&] {
    model->zero_grad();
    logits_of(model, tokens).log_softmax(-1).select(-1, 3).sum().backward();
    return model->named_parameters()["model.layers.0.self_attn.q_proj.weight"].grad().clone();
  };
  const auto plain = gradient();
  const CpuPackedWeights guard(*model);
  EXPECT_TRUE(at::equal(gradient(), plain));
}

TEST_P(PackedModel, GeneratedLogprobsAreTheUnpackedModelsOwn) {
  SKIP_WITHOUT_PACKING();
  // generate() packs the model; a grad-mode forward (never packed) rescores its samples.
  auto model = tiny(/*tied=*/GetParam());
  rollout::GenerationConfig config;
  config.max_new_tokens = 10;
  config.seed = 9;
  const std::vector<std::vector<int64_t>> prompts = {{4, 5, 6}, {7, 8, 9, 10, 11}};
  const auto batch = rollout::generate(model, prompts, config);
  const auto logp = logits_of(model, batch.tokens).detach().log_softmax(-1);
  int64_t checked = 0;
  for (int64_t b = 0; b < batch.batch_size(); ++b) {
    const int64_t start = batch.prompt_lengths[b].item<int64_t>(), n = batch.response_lengths[b].item<int64_t>();
    for (int64_t t = start; t < start + n; ++t) {
      const int64_t token = batch.tokens[b][t].item<int64_t>();
      EXPECT_NEAR(batch.sampler_logprobs[b][t].item<float>(), logp[b][t - 1][token].item<float>(), 1e-4)
          << "row " << b << " position " << t;
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
}

INSTANTIATE_TEST_SUITE_P(TiedAndUntiedHead, PackedModel, ::testing::Bool());

}  // namespace
}  // namespace opd::model::packed_linear_test
