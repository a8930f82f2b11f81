// opd's decoder against Hugging Face transformers itself: for each case of
// tests/reference/hf_model.py, transformers builds a random model of one
// family with its own class, saves it (config.json in the transformers 5 or
// the transformers 4 style, keys left out for the family defaults, bf16 in
// shards), and computes the logits of a right-padded batch and greedy
// continuations with generate(). opd loads the same directory and must agree:
// fp32 logits within 1e-4, bf16 logits as close to the fp32 ones as
// transformers' own bf16 forward, and the same greedy tokens from its KV cache.
#include "opd/model/pretrained.h"
#include "opd/model/safetensors.h"
#include "opd/rollout/generator.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <ATen/core/grad_mode.h>

#include <string>
#include <vector>

namespace opd::model {
namespace {

using opd::testing::read_file_bytes;
using opd::testing::run_reference;
using opd::testing::ScratchDir;

// max |a - b| over the real (unpadded) positions of mask [B, T].
double max_diff_on(const at::Tensor& a, const at::Tensor& b, const at::Tensor& mask) {
  const auto real = mask.to(at::kBool).unsqueeze(-1).expand_as(a);
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().masked_select(real).max().item<double>();
}

std::vector<int64_t> ids_of(const at::Tensor& t) {
  const auto c = t.to(at::kLong).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

class HfModelReference : public ::testing::TestWithParam<std::string> {};

TEST_P(HfModelReference, LogitsAndGreedyDecodingMatchTransformers) {
  ScratchDir dir("opd-hf-model");
  const auto made = run_reference("hf_model.py", "make " + GetParam() + " " + dir.path().string());
  ASSERT_EQ(made.exit_code, 0) << made.output;
  const auto info = nlohmann::json::parse(read_file_bytes(dir / "case.json"));
  const TensorMap ref = read_safetensors(dir / "reference.safetensors").tensors;

  auto model = load_pretrained(dir / "model");
  model->eval();
  at::NoGradGuard no_grad;
  const auto& ids = ref.at("input_ids");
  const auto& mask = ref.at("attention_mask");
  const auto logits = model->forward(ids, position_ids_from_mask(mask), mask).to(at::kFloat);
  ASSERT_EQ(logits.sizes(), ref.at("logits").sizes());
  if (info["dtype"] == "float32") {
    EXPECT_LE(max_diff_on(logits, ref.at("logits"), mask), 1e-4);
  } else {
    // Both sides round every op to bf16 in their own order: opd's bf16
    // logits must be as close to the fp32 ones as transformers' bf16 logits.
    const auto& fp32 = ref.at("logits_fp32");
    const double theirs = max_diff_on(ref.at("logits"), fp32, mask);
    const double ours = max_diff_on(logits, fp32, mask);
    EXPECT_GT(theirs, 0.0) << "the bf16 reference should differ from fp32";
    EXPECT_LE(ours, 1.5 * theirs) << "opd bf16 " << ours << " vs transformers bf16 " << theirs;
  }

  // Greedy decoding of every prompt at once (ragged, through the KV cache)
  // against generate() on each prompt alone.
  const int64_t prompts = info["prompts"], new_tokens = info["new_tokens"];
  std::vector<std::vector<int64_t>> batch;
  for (int64_t i = 0; i < prompts; ++i) batch.push_back(ids_of(ref.at("prompt_" + std::to_string(i))));
  rollout::GenerationConfig gen;
  gen.sampling.temperature = 0.0;
  gen.max_new_tokens = new_tokens;
  const auto out = rollout::generate(model, batch, gen);
  for (int64_t i = 0; i < prompts; ++i) {
    const int64_t start = static_cast<int64_t>(batch[i].size());
    const auto response = ids_of(out.tokens[i].slice(0, start, start + new_tokens));
    EXPECT_EQ(response, ids_of(ref.at("greedy_" + std::to_string(i)))) << "prompt " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Transformers, HfModelReference,
                         ::testing::Values("qwen3_v5", "qwen3_v4_tied_bias", "qwen2_mqa_tied", "llama3_rope_v5",
                                           "llama3_rope_v4", "mistral_window", "mistral_defaults",
                                           "llama_defaults", "qwen3_defaults", "qwen3_bf16_sharded"),
                         [](const auto& info) { return info.param; });

// The other direction: a directory opd wrote (a config read in one style and
// written back, weights, generation_config.json) loads in transformers with
// the same logits, and a re-save keeps the config's RoPE consistent.
TEST(HfModelReference, ModelsOpdSavesLoadInTransformers) {
  for (const std::string name : {"qwen3_v5", "llama3_rope_v4", "mistral_defaults"}) {
    ScratchDir dir("opd-hf-resave");
    const auto made = run_reference("hf_model.py", "make " + name + " " + dir.path().string());
    ASSERT_EQ(made.exit_code, 0) << made.output;
    auto model = load_pretrained(dir / "model");
    save_pretrained(model, dir / "resaved");
    const auto config = nlohmann::json::parse(read_file_bytes(dir / "resaved/config.json"));
    // One theta, where the style it was read in keeps it.
    EXPECT_NE(config.contains("rope_parameters"), config.contains("rope_theta")) << name << ": " << config.dump();

    const TensorMap ref = read_safetensors(dir / "reference.safetensors").tensors;
    write_safetensors(dir / "ids.safetensors", {{"input_ids", ref.at("input_ids")},
                                                {"attention_mask", ref.at("attention_mask")}});
    const auto scored = run_reference("hf_model.py", "logits " + (dir / "resaved") + " " + (dir / "ids.safetensors") +
                                                         " " + (dir / "logits.safetensors"));
    ASSERT_EQ(scored.exit_code, 0) << scored.output;
    at::NoGradGuard no_grad;
    model->eval();
    const auto& mask = ref.at("attention_mask");
    const auto ours = model->forward(ref.at("input_ids"), position_ids_from_mask(mask), mask);
    EXPECT_LE(max_diff_on(ours, read_safetensors(dir / "logits.safetensors").tensors.at("logits"), mask), 1e-4)
        << name;
  }
}

}  // namespace
}  // namespace opd::model
