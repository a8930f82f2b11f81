#include "opd/model/hf_weights.h"
#include "opd/model/pretrained.h"
#include "opd/model/safetensors.h"
#include "opd/model/tiny_model.h"
#include "opd/model/weight_init.h"
#include "support/test_support.h"

#include <c10/core/DefaultDtype.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <ATen/core/grad_mode.h>
#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <fstream>

namespace opd::model {
namespace {

namespace fs = std::filesystem;
using opd::testing::error_message;
using opd::testing::read_file_bytes;
using opd::testing::write_file_bytes;
using opd::testing::ScratchDir;

TinyModelSpec small_spec() {
  TinyModelSpec s;
  s.vocab_size = 61;
  s.hidden_size = 32;
  s.intermediate_size = 48;
  s.num_attention_heads = 4;
  s.num_key_value_heads = 2;
  s.head_dim = 8;
  s.tie_word_embeddings = false;
  s.seed = 3;
  return s;
}

std::map<std::string, std::string> dir_bytes(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out[e.path().filename().string()] = read_file_bytes(e.path().string());
  return out;
}

void expect_same_weights(CausalLM& a, CausalLM& b) {
  auto wa = named_weights(a), wb = named_weights(b);
  ASSERT_EQ(wa.size(), wb.size());
  for (auto& [name, t] : wa) EXPECT_TRUE(at::equal(t, wb.at(name))) << name;
}
class PretrainedDtype : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(PretrainedDtype, SaveLoadSaveIsByteIdentical) {
  ScratchDir dir;
  auto spec = small_spec();
  spec.dtype = GetParam();
  auto model = make_tiny_model(spec);
  save_pretrained(model, dir / "a");
  auto loaded = load_pretrained(dir / "a", LoadOptions{at::kFloat});
  SaveOptions in_param_dtype;
  in_param_dtype.dtype = GetParam();
  save_pretrained(loaded, dir / "b", in_param_dtype);
  EXPECT_EQ(dir_bytes(dir / "a"), dir_bytes(dir / "b"));
  EXPECT_EQ(read_model_config(dir / "b").dtype, GetParam());
  // And the stored dtype is what config.json says.
  auto stored = read_safetensors(dir / "a/model.safetensors");
  EXPECT_EQ(stored.tensors.at("model.norm.weight").scalar_type(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Dtypes, PretrainedDtype,
                         ::testing::Values(at::kFloat, at::kBFloat16, at::kHalf));

TEST(Pretrained, LoadRestoresEveryWeightAndDefaultsToConfigDtype) {
  ScratchDir dir;
  auto spec = small_spec();
  spec.dtype = at::kBFloat16;
  auto model = make_tiny_model(spec);
  save_pretrained(model, dir / "m");
  auto loaded = load_pretrained(dir / "m");
  EXPECT_EQ(loaded->dtype(), at::kBFloat16);
  model->to(at::kBFloat16);
  expect_same_weights(model, loaded);
}

TEST(Pretrained, LoadsStraightIntoTheAskedDtypeWithWeightsOfItsOwn) {
  ScratchDir dir;
  auto model = make_tiny_model(small_spec());  // fp32 on disk
  save_pretrained(model, dir / "m");
  auto loaded = load_pretrained(dir / "m", LoadOptions{at::kBFloat16, at::kCPU});
  for (const auto& p : loaded->parameters()) EXPECT_EQ(p.scalar_type(), at::kBFloat16);
  EXPECT_EQ(c10::get_default_dtype_as_scalartype(), at::kFloat) << "loading must not change the default dtype";
  model->to(at::kBFloat16);
  expect_same_weights(model, loaded);
  // Same dtype as the file: the weights are copies, not views of the mapping.
  auto same = load_pretrained(dir / "m", LoadOptions{at::kFloat, at::kCPU});
  {
    at::NoGradGuard no_grad;
    for (auto& p : same->parameters()) p.add_(1.0);
  }
  auto again = load_pretrained(dir / "m", LoadOptions{at::kFloat, at::kCPU});
  auto fresh = make_tiny_model(small_spec());
  expect_same_weights(fresh, again);
}

// Every weight is overwritten, so none is drawn first: loading leaves the
// global generator where it was (a random init would advance it) and makes
// the model in place, tied or not.
TEST(Pretrained, LoadingDrawsNoRandomNumbers) {
  ScratchDir dir;
  for (bool tied : {false, true}) {
    auto spec = small_spec();
    spec.tie_word_embeddings = tied;
    auto model = make_tiny_model(spec);
    const std::string path = dir / (tied ? "tied" : "untied");
    save_pretrained(model, path);
    auto generator = at::detail::getDefaultCPUGenerator();
    const auto before = generator.get_state();
    auto loaded = load_pretrained(path);
    EXPECT_TRUE(at::equal(generator.get_state(), before)) << (tied ? "tied" : "untied") << ": the generator moved";
    expect_same_weights(model, loaded);
    EXPECT_FALSE(weights_uninitialized()) << "the scope ends with the load";
  }
  // Outside a loader the modules still draw torch.nn's init.
  auto generator = at::detail::getDefaultCPUGenerator();
  const auto before = generator.get_state();
  CausalLM drawn(make_tiny_model(small_spec())->config());
  EXPECT_FALSE(at::equal(generator.get_state(), before));
}

TEST(Pretrained, ShardedCheckpointLoadsSameAsUnsharded) {
  ScratchDir dir;
  auto model = make_tiny_model(small_spec());
  save_pretrained(model, dir / "single");
  SaveOptions sharded;
  sharded.max_shard_bytes = 8 * 1024;
  save_pretrained(model, dir / "sharded", sharded);
  ASSERT_TRUE(fs::exists(dir / "sharded/model.safetensors.index.json"));
  ASSERT_FALSE(fs::exists(dir / "sharded/model.safetensors"));
  int shards = 0;
  for (const auto& e : fs::directory_iterator(dir / "sharded")) shards += e.path().extension() == ".safetensors";
  EXPECT_GT(shards, 2);
  auto a = load_pretrained(dir / "single");
  auto b = load_pretrained(dir / "sharded");
  expect_same_weights(a, b);
}

TEST(Pretrained, CompanionFilesTravelAndOldDirIsReplacedWhole) {
  ScratchDir dir;
  auto model = make_tiny_model(small_spec());
  save_pretrained(model, dir / "src");
  write_file_bytes(dir / "src/tokenizer.json", "{\"model\": {}}");
  fs::create_directories(dir / "out");
  write_file_bytes(dir / "out/stale.txt", "old");
  save_pretrained(model, dir / "out", SaveOptions{std::nullopt, int64_t{5} << 30, dir / "src"});
  EXPECT_EQ(read_file_bytes(dir / "out/tokenizer.json"), "{\"model\": {}}");
  EXPECT_FALSE(fs::exists(dir / "out/stale.txt"));
  for (const auto& e : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
}

TEST(Pretrained, NonFiniteWeightsAreNeverSavedAndOldCheckpointSurvives) {
  ScratchDir dir;
  auto model = make_tiny_model(small_spec());
  save_pretrained(model, dir / "ckpt");
  const auto before = dir_bytes(dir / "ckpt");
  {
    at::NoGradGuard no_grad;
    named_weights(model).at("model.norm.weight")[0] = NAN;
  }
  const auto msg = error_message([&] { save_pretrained(model, dir / "ckpt"); });
  EXPECT_NE(msg.find("model.norm.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("NaN"), std::string::npos) << msg;
  EXPECT_EQ(dir_bytes(dir / "ckpt"), before);
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1) << "no temporary directory may be left behind";
  // Weights made non-finite elsewhere are refused on load, naming the tensor and its file.
  auto tensors = read_safetensors(dir / "ckpt/model.safetensors").tensors;
  TensorMap poisoned(tensors.begin(), tensors.end());
  poisoned["model.norm.weight"] = poisoned["model.norm.weight"].clone();
  poisoned["model.norm.weight"][1] = INFINITY;
  write_safetensors(dir / "ckpt/model.safetensors", poisoned);
  const auto load = error_message([&] { load_pretrained(dir / "ckpt"); });
  EXPECT_NE(load.find("model.safetensors: tensor 'model.norm.weight' holds NaN or Inf"), std::string::npos) << load;
}

TEST(Pretrained, MissingDirectoryOrConfigIsOneClearError) {
  ScratchDir dir;
  auto msg = error_message([&] { load_pretrained(dir / "nope"); });
  EXPECT_NE(msg.find("nope"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
  fs::create_directories(dir / "empty");
  msg = error_message([&] { load_pretrained(dir / "empty"); });
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
}

TEST(Pretrained, ShapeDisagreeingWithConfigNamesTensorAndShapes) {
  ScratchDir dir;
  auto model = make_tiny_model(small_spec());
  save_pretrained(model, dir / "m");
  auto j = nlohmann::json::parse(read_file_bytes(dir / "m/config.json"));
  j["intermediate_size"] = 64;  // weights were written with 48
  write_file_bytes(dir / "m/config.json", j.dump());
  const auto msg = error_message([&] { load_pretrained(dir / "m"); });
  // Tensors are checked in name order: down_proj [hidden, intermediate] is first.
  EXPECT_NE(msg.find("'model.layers.0.mlp.down_proj.weight' has shape [32, 48]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("implies [32, 64]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
}

// In a sharded checkpoint the error names the shard that holds the tensor.
TEST(Pretrained, ShardedErrorsNameTheShardFile) {
  ScratchDir dir;
  auto model = make_tiny_model(small_spec());
  SaveOptions sharded;
  sharded.max_shard_bytes = 4096;
  save_pretrained(model, dir / "m", sharded);
  std::map<std::string, std::string> file_of;
  auto weights = read_hf_weights(dir / "m", &file_of);
  const std::string name = "model.layers.1.self_attn.o_proj.weight";
  ASSERT_NE(file_of[name].find("-of-"), std::string::npos) << file_of[name];
  TensorMap copy;
  for (auto& [n, t] : weights) copy[n] = t.clone();
  copy[name] = at::zeros({3, 3});
  WeightWriteOptions options;
  options.max_shard_bytes = 4096;
  write_hf_weights(dir / "m", copy, options);
  read_hf_weights(dir / "m", &file_of);
  auto msg = error_message([&] { load_pretrained(dir / "m"); });
  EXPECT_NE(msg.find(file_of[name] + ": tensor '" + name + "' has shape [3, 3]"), std::string::npos) << msg;
  copy[name] = at::zeros(weights.at(name).sizes(), at::kInt);
  write_hf_weights(dir / "m", copy, options);
  read_hf_weights(dir / "m", &file_of);
  msg = error_message([&] { load_pretrained(dir / "m"); });
  EXPECT_NE(msg.find(file_of[name] + ": tensor '" + name + "' has non-float dtype"), std::string::npos) << msg;
}

TEST(Pretrained, MissingAndUnexpectedTensorsAreNamed) {
  ScratchDir dir;
  auto model = make_tiny_model(small_spec());
  save_pretrained(model, dir / "m");
  auto weights = read_hf_weights(dir / "m");
  TensorMap copy;
  for (auto& [n, t] : weights) copy[n] = t.clone();
  copy.erase("model.layers.1.mlp.up_proj.weight");
  write_hf_weights(dir / "m", copy);
  auto msg = error_message([&] { load_pretrained(dir / "m"); });
  EXPECT_NE(msg.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;

  copy = {};
  for (auto& [n, t] : weights) copy[n] = t.clone();
  copy["model.layers.9.mlp.up_proj.weight"] = at::zeros({2, 2});
  write_hf_weights(dir / "m", copy);
  msg = error_message([&] { load_pretrained(dir / "m"); });
  EXPECT_NE(msg.find("unexpected tensor 'model.layers.9.mlp.up_proj.weight'"), std::string::npos) << msg;
}

TEST(Pretrained, TruncatedSafetensorsNamesTheFile) {
  ScratchDir dir;
  auto model = make_tiny_model(small_spec());
  save_pretrained(model, dir / "m");
  const std::string path = dir / "m/model.safetensors";
  const auto bytes = read_file_bytes(path);
  write_file_bytes(path, bytes.substr(0, bytes.size() / 2));
  const auto msg = error_message([&] { load_pretrained(dir / "m"); });
  EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(ModelConfig, ParsesRealQwen3Config) {
  // Qwen3-0.6B's config.json as published (abridged to the fields that matter).
  const char* text = R"({
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "bos_token_id": 151643,
    "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024,
    "intermediate_size": 3072, "max_position_embeddings": 40960, "max_window_layers": 28,
    "model_type": "qwen3", "num_attention_heads": 16, "num_hidden_layers": 28,
    "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000,
    "sliding_window": null, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
    "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})";
  auto c = parse_model_config(text, "config.json");
  EXPECT_EQ(c.architecture, Architecture::kQwen3);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_FALSE(c.qkv_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.dtype, at::kBFloat16);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.eos_token_ids, std::vector<int64_t>{151645});
  EXPECT_EQ(c.sliding_window, 0);
  // Unmodelled keys survive a round trip.
  EXPECT_NE(model_config_json(c).find("max_window_layers"), std::string::npos);
}

TEST(ModelConfig, FamilyDefaults) {
  auto qwen2 = parse_model_config(R"({"model_type": "qwen2", "vocab_size": 10, "hidden_size": 128,
      "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 32})", "q2");
  EXPECT_TRUE(qwen2.qkv_bias);
  EXPECT_FALSE(qwen2.o_proj_bias);
  EXPECT_EQ(qwen2.head_dim, 4);
  EXPECT_EQ(qwen2.num_key_value_heads, 32);  // Qwen2Config's default, as in transformers
  auto llama = parse_model_config(R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 8,
      "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
      "eos_token_id": [1, 2], "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
      "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}})", "l");
  EXPECT_EQ(llama.rope_scaling.kind, RopeScaling::Kind::kLlama3);
  EXPECT_EQ(llama.eos_token_ids, (std::vector<int64_t>{1, 2}));
  auto mistral = parse_model_config(R"({"model_type": "mistral", "vocab_size": 10, "hidden_size": 32,
      "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 8})", "m");
  EXPECT_EQ(mistral.sliding_window, 4096);  // MistralConfig's defaults for missing keys
  EXPECT_EQ(mistral.num_key_value_heads, 8);
  EXPECT_EQ(mistral.max_position_embeddings, 131072);
  EXPECT_EQ(mistral.eos_token_ids, std::vector<int64_t>{2});
  EXPECT_EQ(mistral.bos_token_id, 1);
  auto no_window = parse_model_config(R"({"model_type": "mistral", "vocab_size": 10, "hidden_size": 32,
      "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 8, "sliding_window": null,
      "eos_token_id": null})", "m");
  EXPECT_EQ(no_window.sliding_window, 0);
  EXPECT_TRUE(no_window.eos_token_ids.empty()) << "an explicit null is no token, not the default";
}

// RoPE as transformers >= 5 reads it (rope_parameters first), and written back
// in the style it was read in, with one theta.
TEST(ModelConfig, RopeParametersAndStyles) {
  const std::string base = R"("model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
      "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 64)";
  auto v5 = parse_model_config("{" + base + R"(, "rope_theta": 10000.0, "rope_parameters": {"rope_type": "llama3",
      "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0}})", "v5");
  EXPECT_DOUBLE_EQ(v5.rope_theta, 5e5) << "the dict's theta wins";
  EXPECT_EQ(v5.rope_scaling.kind, RopeScaling::Kind::kLlama3);
  EXPECT_EQ(v5.rope_scaling.original_max_position_embeddings, 64) << "defaults to max_position_embeddings";
  auto written = nlohmann::json::parse(model_config_json(v5));
  EXPECT_FALSE(written.contains("rope_theta"));
  EXPECT_FALSE(written.contains("rope_scaling"));
  EXPECT_EQ(written["rope_parameters"]["rope_theta"], 5e5);
  EXPECT_EQ(written["rope_parameters"]["rope_type"], "llama3");
  EXPECT_EQ(parse_model_config(written.dump(), "again").rope_scaling.original_max_position_embeddings, 64);

  auto v4 = parse_model_config("{" + base + R"(, "rope_theta": 1000000.0, "rope_scaling": null, "torch_dtype": "bfloat16"})", "v4");
  written = nlohmann::json::parse(model_config_json(v4));
  EXPECT_EQ(written["rope_theta"], 1e6);
  EXPECT_TRUE(written["rope_scaling"].is_null());
  EXPECT_FALSE(written.contains("rope_parameters"));
  EXPECT_EQ(written["torch_dtype"], "bfloat16");
  EXPECT_FALSE(written.contains("dtype"));

  // A new model is written the way transformers 5 writes one.
  written = nlohmann::json::parse(model_config_json(tiny_config(small_spec())));
  EXPECT_TRUE(written.contains("rope_parameters") && !written.contains("rope_theta")) << written.dump();
  EXPECT_TRUE(written.contains("dtype") && !written.contains("torch_dtype")) << written.dump();

  auto msg = error_message([&] {
    parse_model_config("{" + base + R"(, "rope_parameters": {"rope_type": "llama3", "factor": 8.0}})", "/m/config.json");
  });
  EXPECT_NE(msg.find("/m/config.json rope_parameters: llama3 RoPE needs 'low_freq_factor'"), std::string::npos) << msg;
  msg = error_message([&] {
    parse_model_config("{" + base + R"(, "rope_parameters": {"rope_type": "yarn", "factor": 4.0}})", "/m/config.json");
  });
  EXPECT_NE(msg.find("'yarn' is not supported"), std::string::npos) << msg;
}

TEST(ModelConfig, BadFieldsNameTheKey) {
  const std::string base = R"("vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
      "num_hidden_layers": 1, "num_attention_heads": 2)";
  auto err = [&](const std::string& extra) {
    return error_message([&] { parse_model_config("{" + extra + "}", "/m/config.json"); });
  };
  EXPECT_NE(err(R"("model_type": "gpt2", )" + base).find("'model_type' must be one of"), std::string::npos);
  EXPECT_NE(err(R"("model_type": "qwen3", "hidden_size": "8", "vocab_size": 10)").find("'hidden_size' must be a positive integer"), std::string::npos);
  EXPECT_NE(err(R"("model_type": "qwen3", "vocab_size": 10)").find("missing required key 'hidden_size'"), std::string::npos);
  EXPECT_NE(err(R"("model_type": "llama", "num_key_value_heads": 3, )" + base).find("multiple of num_key_value_heads"), std::string::npos);
  EXPECT_NE(err(R"("model_type": "llama", "hidden_act": "gelu", )" + base).find("hidden_act"), std::string::npos);
  EXPECT_NE(err(R"("model_type": "llama", "rope_scaling": {"type": "yarn"}, )" + base).find("'yarn' is not supported"), std::string::npos);
  EXPECT_NE(err(R"("model_type": "llama", "torch_dtype": "int8", )" + base).find("torch_dtype"), std::string::npos);
  EXPECT_NE(err("").find("/m/config.json"), std::string::npos);
  // Token ids outside the vocabulary, and sizes no model has, are refused before anything is allocated.
  EXPECT_NE(err(R"("model_type": "qwen3", "eos_token_id": 10, )" + base).find("'eos_token_id' 10 is outside the vocabulary [0, 10)"),
            std::string::npos);
  EXPECT_NE(err(R"("model_type": "qwen3", "eos_token_id": [1, -1], )" + base).find("'eos_token_id' -1 is outside"), std::string::npos);
  EXPECT_NE(err(R"("model_type": "qwen3", "bos_token_id": 99, )" + base).find("'bos_token_id' 99"), std::string::npos);
  const std::string huge = R"("model_type": "qwen3", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
      "num_attention_heads": 2, "num_hidden_layers": 100000000)";
  EXPECT_NE(err(huge).find("'num_hidden_layers' 100000000 exceeds 4096"), std::string::npos) << err(huge);
  const std::string wide = R"("model_type": "qwen3", "vocab_size": 1000, "hidden_size": 100000, "intermediate_size": 1000000,
      "num_attention_heads": 2, "head_dim": 64, "num_hidden_layers": 100)";
  EXPECT_NE(err(wide).find("parameters, more than any model"), std::string::npos) << err(wide);
  EXPECT_NE(error_message([] { parse_model_config("{not json", "/m/config.json"); }).find("not valid JSON"), std::string::npos);
}

// Found by the fuzz target tests/fuzz/model_config_fuzzer.cpp: a number past
// a double escaped as nlohmann's own exception (no file, no key); a JSON
// nesting 100000 levels deep overflowed the stack printing the message; more
// heads than hidden units without a head_dim gave head_dim 0, accepted.
TEST(ModelConfig, MalformedNumbersNestingAndHeadsAreErrorsNamingTheFileAndKey) {
  const std::string base = R"("model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
      "num_hidden_layers": 1)";
  auto err = [&](const std::string& body) {
    return error_message([&] { parse_model_config("{" + body + "}", "/m/config.json"); });
  };
  std::string msg = err(base + R"(, "num_attention_heads": 2, "rope_theta": 1e400)");
  EXPECT_NE(msg.find("/m/config.json: not valid JSON"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1e400"), std::string::npos) << msg;
  EXPECT_NE(msg.find("after key 'rope_theta'"), std::string::npos) << msg;
  msg = err(base + R"(, "num_attention_heads": 2, "x": )" + std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_NE(msg.find("nest deeper than 100 levels (after key 'x')"), std::string::npos) << msg;
  msg = err(base + R"(, "num_attention_heads": 16)");
  EXPECT_NE(msg.find("/m/config.json: 'head_dim' is missing and hidden_size (8) // num_attention_heads (16) is 0"),
            std::string::npos)
      << msg;
  EXPECT_EQ(parse_model_config("{" + base + R"(, "num_attention_heads": 16, "head_dim": 2})", "c").head_dim, 2);
}

}  // namespace
}  // namespace opd::model
