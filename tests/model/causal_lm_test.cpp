#include "model/model_reference.h"
#include "opd/model/kv_cache.h"
#include "opd/model/pretrained.h"
#include "opd/model/tiny_model.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <ATen/core/grad_mode.h>

namespace opd::model {
namespace {

// Norm weights away from 1 so a misplaced norm shows in the logits.
void perturb_norms(CausalLM& model, uint64_t seed) {
  at::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& [name, p] : named_weights(model)) {
    if (name.find("norm") != std::string::npos) p.uniform_(0.5, 1.5, gen);
    if (name.size() > 5 && name.substr(name.size() - 5) == ".bias") p.normal_(0.0, 0.1, gen);
  }
}

TinyModelSpec spec_for(Architecture arch) {
  TinyModelSpec s;
  s.architecture = arch;
  s.vocab_size = 97;  // odd on purpose
  s.hidden_size = 48;
  s.intermediate_size = 80;
  s.num_hidden_layers = 2;
  s.num_attention_heads = 6;
  s.num_key_value_heads = 2;
  s.head_dim = 8;
  s.init_std = 0.2;
  s.seed = 7;
  return s;
}

at::Tensor random_ids(int64_t n, int64_t vocab, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randint(vocab, {n}, gen, at::kLong);
}

struct ArchCase {
  Architecture arch;
  bool tied;
  int64_t sliding_window;
};

class CausalLMReference : public ::testing::TestWithParam<ArchCase> {};

TEST_P(CausalLMReference, FullForwardMatchesIndependentReference) {
  auto spec = spec_for(GetParam().arch);
  spec.tie_word_embeddings = GetParam().tied;
  auto config = tiny_config(spec);
  config.sliding_window = GetParam().sliding_window;
  CausalLM model(config);
  {
    auto seeded = make_tiny_model(spec);  // same weights, config with our window
    at::NoGradGuard no_grad;
    auto src = named_weights(seeded);
    for (auto& [name, p] : named_weights(model)) p.copy_(src.at(name));
  }
  perturb_norms(model, 3);
  at::NoGradGuard no_grad;
  auto ids = random_ids(11, spec.vocab_size, 5);
  auto mask = at::ones({1, 11}, at::kLong);
  auto logits = model->forward(ids.unsqueeze(0), position_ids_from_mask(mask), mask)[0];
  auto expected = testing::reference_logits(model, ids);
  EXPECT_TRUE(at::allclose(logits.to(at::kDouble), expected, 1e-4, 1e-4))
      << "max abs diff " << (logits.to(at::kDouble) - expected).abs().max().item<double>();
}

INSTANTIATE_TEST_SUITE_P(Families, CausalLMReference,
                         ::testing::Values(ArchCase{Architecture::kQwen3, true, 0},
                                           ArchCase{Architecture::kQwen3, false, 0},
                                           ArchCase{Architecture::kQwen2, true, 0},
                                           ArchCase{Architecture::kLlama, false, 0},
                                           ArchCase{Architecture::kMistral, false, 4}),
                         [](const auto& info) {
                           return std::string(architecture_name(info.param.arch)) +
                                  (info.param.tied ? "_tied" : "_untied") +
                                  (info.param.sliding_window ? "_window" : "");
                         });

// Right-padded ragged batch: each row's logits equal that row run alone.
TEST(CausalLM, PaddedBatchRowsMatchSingleSequences) {
  auto model = make_tiny_model(spec_for(Architecture::kQwen3));
  at::NoGradGuard no_grad;
  const std::vector<int64_t> lengths = {9, 4, 6};
  auto ids = at::zeros({3, 9}, at::kLong);
  auto mask = at::zeros({3, 9}, at::kLong);
  for (int64_t b = 0; b < 3; ++b) {
    ids[b].slice(0, 0, lengths[b]).copy_(random_ids(lengths[b], 97, 10 + b));
    mask[b].slice(0, 0, lengths[b]).fill_(1);
  }
  auto batched = model->forward(ids, position_ids_from_mask(mask), mask);
  EXPECT_TRUE(batched.isfinite().all().item<bool>()) << "pad rows must stay finite";
  for (int64_t b = 0; b < 3; ++b) {
    const int64_t L = lengths[b];
    auto one_mask = at::ones({1, L}, at::kLong);
    auto alone = model->forward(ids[b].slice(0, 0, L).unsqueeze(0), position_ids_from_mask(one_mask), one_mask)[0];
    EXPECT_TRUE(at::allclose(batched[b].slice(0, 0, L), alone, 1e-5, 1e-5)) << "row " << b;
  }
}

// Prefill a ragged batch, then decode one token at a time: every step's
// logits equal the full forward over the whole sequence.
TEST(CausalLM, KvCacheDecodingMatchesFullForward) {
  for (Architecture arch : {Architecture::kQwen3, Architecture::kLlama}) {
    auto model = make_tiny_model(spec_for(arch));
    perturb_norms(model, 11);
    at::NoGradGuard no_grad;
    const std::vector<int64_t> prompt_len = {5, 2, 7};
    const int64_t steps = 6, B = 3, Tp = 7;
    auto full = at::zeros({B, Tp + steps}, at::kLong);
    for (int64_t b = 0; b < B; ++b) full[b].copy_(random_ids(Tp + steps, 97, 20 + b));

    KvCache cache(model->config(), B, Tp + steps, at::kFloat, at::kCPU);
    auto prompt_mask = at::zeros({B, Tp}, at::kLong);
    auto prompt = at::zeros({B, Tp}, at::kLong);
    for (int64_t b = 0; b < B; ++b) {
      prompt_mask[b].slice(0, 0, prompt_len[b]).fill_(1);
      prompt[b].slice(0, 0, prompt_len[b]).copy_(full[b].slice(0, 0, prompt_len[b]));
    }
    auto prefill = model->forward(prompt, position_ids_from_mask(prompt_mask), prompt_mask, &cache);
    for (int64_t b = 0; b < B; ++b) {
      const int64_t L = prompt_len[b];
      auto m = at::ones({1, L}, at::kLong);
      auto ref = model->forward(full[b].slice(0, 0, L).unsqueeze(0), position_ids_from_mask(m), m)[0];
      EXPECT_TRUE(at::allclose(prefill[b].slice(0, 0, L), ref, 1e-5, 1e-5));
    }
    for (int64_t i = 0; i < steps; ++i) {
      auto next = at::zeros({B, 1}, at::kLong), pos = at::zeros({B, 1}, at::kLong);
      for (int64_t b = 0; b < B; ++b) {
        next[b][0] = full[b][prompt_len[b] + i];
        pos[b][0] = prompt_len[b] + i;
      }
      auto step_logits = model->forward(next, pos, at::ones({B, 1}, at::kLong), &cache);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t L = prompt_len[b] + i + 1;
        auto m = at::ones({1, L}, at::kLong);
        auto ref = model->forward(full[b].slice(0, 0, L).unsqueeze(0), position_ids_from_mask(m), m)[0][L - 1];
        EXPECT_TRUE(at::allclose(step_logits[b][0], ref, 1e-5, 1e-5))
            << architecture_name(arch) << " step " << i << " row " << b << " max diff "
            << (step_logits[b][0] - ref).abs().max().item<double>();
      }
    }
    EXPECT_EQ(cache.length(), Tp + steps);
  }
}

TEST(CausalLM, KvCacheOverflowIsAnError) {
  auto model = make_tiny_model(spec_for(Architecture::kQwen3));
  at::NoGradGuard no_grad;
  KvCache cache(model->config(), 1, 4, at::kFloat, at::kCPU);
  auto ids = at::zeros({1, 5}, at::kLong);
  auto mask = at::ones({1, 5}, at::kLong);
  EXPECT_THROW(model->forward(ids, position_ids_from_mask(mask), mask, &cache), c10::Error);
}

TEST(CausalLM, Bf16ForwardTracksFp32) {
  auto model = make_tiny_model(spec_for(Architecture::kQwen3));
  at::NoGradGuard no_grad;
  auto ids = random_ids(10, 97, 1).unsqueeze(0);
  auto mask = at::ones({1, 10}, at::kLong);
  auto ref = model->forward(ids, position_ids_from_mask(mask), mask);
  model->to(at::kBFloat16);
  auto low = model->forward(ids, position_ids_from_mask(mask), mask);
  EXPECT_EQ(low.scalar_type(), at::kBFloat16);
  const double rel = ((low.to(at::kFloat) - ref).norm() / ref.norm()).item<double>();
  EXPECT_LT(rel, 3e-2);
  EXPECT_GT(rel, 0.0) << "bf16 should not be bit-identical to fp32";
}

TEST(RotaryEmbedding, Llama3ScalingKeepsHighAndSlowsLowFrequencies) {
  TinyModelSpec spec = spec_for(Architecture::kLlama);
  auto config = tiny_config(spec);
  config.head_dim = 128;
  config.rope_theta = 500000.0;
  RotaryEmbedding plain(config);
  config.rope_scaling = RopeScaling{RopeScaling::Kind::kLlama3, 8.0, 1.0, 4.0, 8192};
  RotaryEmbedding scaled(config);
  auto ratio = scaled.inv_freq() / plain.inv_freq();
  EXPECT_NEAR(ratio[0].item<double>(), 1.0, 1e-6);          // wavelength 2*pi: untouched
  EXPECT_NEAR(ratio[63].item<double>(), 1.0 / 8.0, 1e-6);   // longest wavelength: / factor
  // In between, the ratio only falls, from 1 to 1/8.
  EXPECT_TRUE((ratio.slice(0, 1) <= ratio.slice(0, 0, 63) + 1e-7).all().item<bool>());
  EXPECT_TRUE(((ratio > 1.0 / 8.0 + 1e-6) & (ratio < 1.0 - 1e-6)).any().item<bool>())
      << "some band must be interpolated";
}

}  // namespace
}  // namespace opd::model
