#include "opd/model/hf_weights.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "model/tensor_maps.h"
#include "support/test_support.h"

namespace opd::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using opd::testing::error_message;
using opd::testing::expect_error;
using opd::testing::write_file_bytes;
using opd::testing::read_file_bytes;
using opd::testing::ScratchDir;

// A small decoder-shaped state dict: 7 tensors, 4 dtypes.
TensorMap sample_weights() {
  TensorMap t;
  t["model.embed_tokens.weight"] = at::randn({32, 8}).to(at::kBFloat16);           // 512 B
  t["model.layers.0.self_attn.q_proj.weight"] = at::randn({8, 8});                // 256 B
  t["model.layers.0.self_attn.k_proj.weight"] = at::randn({4, 8}).to(at::kHalf);  // 64 B
  t["model.layers.0.mlp.up_proj.weight"] = at::randn({16, 8});                    // 512 B
  t["model.norm.weight"] = at::ones({8});                                         // 32 B
  t["model.rotary.inv_freq"] = at::arange(4, at::kDouble);                        // 32 B
  t["lm_head.weight"] = at::randn({32, 8});                                       // 1024 B
  return t;
}

int64_t total_bytes(const TensorMap& tensors) {
  int64_t total = 0;
  for (const auto& [name, t] : tensors) total += t.numel() * static_cast<int64_t>(t.element_size());
  return total;
}

std::set<std::string> file_names(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

json read_json(const std::string& path) { return json::parse(read_file_bytes(path)); }

TEST(HfWeights, SingleShardWritesModelSafetensors) {
  ScratchDir dir("opd-hf-weights");
  const TensorMap weights = sample_weights();
  write_hf_weights(dir.path().string(), weights);
  EXPECT_EQ(file_names(dir.path()), std::set<std::string>{"model.safetensors"});
  expect_same_tensors(weights, read_hf_weights(dir.path().string()));
  EXPECT_EQ(read_safetensors(dir / "model.safetensors").metadata.at("format"), "pt");
}

TEST(HfWeights, ShardsWithIndexWhenOverTheLimit) {
  ScratchDir single("opd-hf-weights");
  ScratchDir sharded("opd-hf-weights");
  const TensorMap weights = sample_weights();
  const WeightWriteOptions options{1024};
  write_hf_weights(single.path().string(), weights);
  write_hf_weights(sharded.path().string(), weights, options);

  // In name order: lm_head (1024 B) fills shard 1; embed (512) + up_proj (512) fill
  // shard 2; k_proj (64) + q_proj (256) + norm (32) + rotary (32) go to shard 3.
  const std::vector<std::vector<std::string>> expected_shards = {
      {"lm_head.weight"},
      {"model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight"},
      {"model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.q_proj.weight",
       "model.norm.weight", "model.rotary.inv_freq"}};
  std::set<std::string> expected_files = {"model.safetensors.index.json"};
  for (size_t i = 0; i < expected_shards.size(); ++i) {
    expected_files.insert("model-0000" + std::to_string(i + 1) + "-of-00003.safetensors");
  }
  EXPECT_EQ(file_names(sharded.path()), expected_files);

  const json index = read_json(sharded / "model.safetensors.index.json");
  EXPECT_EQ(index.at("metadata").at("total_size").get<int64_t>(), total_bytes(weights));
  const json& weight_map = index.at("weight_map");
  EXPECT_EQ(weight_map.size(), weights.size());
  for (size_t i = 0; i < expected_shards.size(); ++i) {
    const std::string file = "model-0000" + std::to_string(i + 1) + "-of-00003.safetensors";
    const SafetensorsFile shard = read_safetensors(sharded / file);
    std::vector<std::string> names;
    for (const auto& [name, t] : shard.tensors) {
      names.push_back(name);
      EXPECT_EQ(weight_map.at(name).get<std::string>(), file) << name;
    }
    EXPECT_EQ(names, expected_shards[i]) << file;
    EXPECT_LE(total_bytes(shard.tensors), options.max_shard_bytes) << file;
  }

  const TensorMap from_sharded = read_hf_weights(sharded.path().string());
  expect_same_tensors(weights, from_sharded);
  expect_same_tensors(read_hf_weights(single.path().string()), from_sharded);
}

TEST(HfWeights, TensorLargerThanTheLimitGetsItsOwnShard) {
  ScratchDir dir("opd-hf-weights");
  const TensorMap weights{{"a", at::ones({4})}, {"b", at::ones({100})}, {"c", at::ones({4})}};
  write_hf_weights(dir.path().string(), weights, WeightWriteOptions{64});
  const json weight_map = read_json(dir / "model.safetensors.index.json").at("weight_map");
  EXPECT_EQ(weight_map.at("a"), "model-00001-of-00003.safetensors");
  EXPECT_EQ(weight_map.at("b"), "model-00002-of-00003.safetensors");
  EXPECT_EQ(weight_map.at("c"), "model-00003-of-00003.safetensors");
  expect_same_tensors(weights, read_hf_weights(dir.path().string()));
}

TEST(HfWeights, WritingTwiceIsByteIdentical) {
  ScratchDir first("opd-hf-weights");
  ScratchDir second("opd-hf-weights");
  const TensorMap weights = sample_weights();
  write_hf_weights(first.path().string(), weights, WeightWriteOptions{1024});
  write_hf_weights(second.path().string(), read_hf_weights(first.path().string()),
                   WeightWriteOptions{1024});
  const auto names = file_names(first.path());
  ASSERT_EQ(names.size(), 4u);
  EXPECT_EQ(names, file_names(second.path()));
  for (const auto& name : names) {
    EXPECT_EQ(read_file_bytes(first / name), read_file_bytes(second / name)) << name;
  }
  // Rewriting into the same directory changes nothing either.
  const std::string index_before = read_file_bytes(first / "model.safetensors.index.json");
  write_hf_weights(first.path().string(), weights, WeightWriteOptions{1024});
  EXPECT_EQ(read_file_bytes(first / "model.safetensors.index.json"), index_before);
  EXPECT_EQ(file_names(first.path()), names);
}

TEST(HfWeights, IndexLooksLikeSavePretrained) {
  ScratchDir dir("opd-hf-weights");
  write_hf_weights(dir.path().string(), {{"a", at::ones({4})}, {"b", at::ones({4})}},
                   WeightWriteOptions{16});
  EXPECT_EQ(read_file_bytes(dir / "model.safetensors.index.json"),
            "{\n"
            "  \"metadata\": {\n"
            "    \"total_size\": 32\n"
            "  },\n"
            "  \"weight_map\": {\n"
            "    \"a\": \"model-00001-of-00002.safetensors\",\n"
            "    \"b\": \"model-00002-of-00002.safetensors\"\n"
            "  }\n"
            "}\n");
}

TEST(HfWeights, RewriteRemovesTheOldLayout) {
  ScratchDir dir("opd-hf-weights");
  const std::string path = dir.path().string();
  const TensorMap weights = sample_weights();
  fs::create_directory(dir.path() / "keep");
  std::ofstream(dir / "config.json") << "{}";

  write_hf_weights(path, weights, WeightWriteOptions{1024});
  EXPECT_EQ(file_names(dir.path()).size(), 6u);  // 3 shards, index, config.json, keep/
  write_hf_weights(path, weights);
  EXPECT_EQ(file_names(dir.path()),
            (std::set<std::string>{"config.json", "keep", "model.safetensors"}));
  write_hf_weights(path, weights, WeightWriteOptions{2048});
  EXPECT_EQ(file_names(dir.path()),
            (std::set<std::string>{"config.json", "keep", "model-00001-of-00002.safetensors",
                                   "model-00002-of-00002.safetensors",
                                   "model.safetensors.index.json"}));
  expect_same_tensors(weights, read_hf_weights(path));
}

TEST(HfWeights, MissingShardNamesTheShardAndATensor) {
  ScratchDir dir("opd-hf-weights");
  write_hf_weights(dir.path().string(), sample_weights(), WeightWriteOptions{1024});
  fs::remove(dir / "model-00002-of-00003.safetensors");
  expect_error([&] { read_hf_weights(dir.path().string()); },
               {dir / "model.safetensors.index.json", "model-00002-of-00003.safetensors",
                "model.embed_tokens.weight", "does not exist"});
}

TEST(HfWeights, IndexAndShardMustAgree) {
  ScratchDir dir("opd-hf-weights");
  const std::string path = dir.path().string();
  const std::string index_path = dir / "model.safetensors.index.json";
  write_hf_weights(path, {{"a", at::ones({4})}, {"b", at::ones({4})}}, WeightWriteOptions{16});
  json index = read_json(index_path);

  json extra = index;
  extra["weight_map"]["ghost"] = "model-00001-of-00002.safetensors";
  std::ofstream(index_path) << extra.dump();
  expect_error([&] { read_hf_weights(path); },
               {index_path, "'ghost'", "model-00001-of-00002.safetensors", "does not contain"});

  json missing = index;  // shard 2 holds "b" too, but the index lists only "a" there
  missing["weight_map"].erase("b");
  missing["weight_map"]["a"] = "model-00002-of-00002.safetensors";
  std::ofstream(index_path) << missing.dump();
  expect_error([&] { read_hf_weights(path); }, {index_path, "tensor 'b'", "does not list"});

  json swapped = index;
  swapped["weight_map"]["a"] = "model-00002-of-00002.safetensors";
  swapped["weight_map"]["b"] = "model-00001-of-00002.safetensors";
  std::ofstream(index_path) << swapped.dump();
  expect_error([&] { read_hf_weights(path); },
               {index_path, "model-00002-of-00002.safetensors", "tensor 'a'", "maps to shard"});

  json escape = index;
  escape["weight_map"]["a"] = "../elsewhere.safetensors";
  std::ofstream(index_path) << escape.dump();
  expect_error([&] { read_hf_weights(path); }, {index_path, "../elsewhere", "not a file inside"});

  std::ofstream(index_path) << "{\"weight_map\": {";
  expect_error([&] { read_hf_weights(path); }, {index_path, "not valid JSON"});
  std::ofstream(index_path) << "{\"metadata\": {}}";
  expect_error([&] { read_hf_weights(path); }, {index_path, "weight_map"});
}

TEST(HfWeights, DirectoryWithoutWeightsSaysWhatWasLookedFor) {
  ScratchDir dir("opd-hf-weights");
  const std::string path = dir.path().string();
  expect_error([&] { read_hf_weights(path); },
               {path, "model.safetensors", "model.safetensors.index.json", "neither"});
  expect_error([&] { read_hf_weights(dir / "absent"); }, {dir / "absent", "no such directory"});
  expect_error([&] { write_hf_weights(dir / "absent", sample_weights()); },
               {dir / "absent", "not an existing directory"});
}

TEST(HfWeights, CorruptShardErrorNamesTheShardFile) {
  ScratchDir dir("opd-hf-weights");
  write_hf_weights(dir.path().string(), sample_weights(), WeightWriteOptions{1024});
  const std::string shard = dir / "model-00003-of-00003.safetensors";
  const std::string bytes = read_file_bytes(shard);
  std::ofstream(shard, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 10);
  expect_error([&] { read_hf_weights(dir.path().string()); }, {shard, "truncated"});
}

TEST(HfWeights, BadInputWritesNothing) {
  ScratchDir dir("opd-hf-weights");
  const std::string path = dir.path().string();
  TensorMap weights = sample_weights();
  weights["zzz.complex"] = at::ones({2}, at::kComplexFloat);  // last in name order
  expect_error([&] { write_hf_weights(path, weights, WeightWriteOptions{1024}); },
               {path, "zzz.complex", "ComplexFloat"});
  expect_error([&] { write_hf_weights(path, sample_weights(), WeightWriteOptions{0}); },
               {"max_shard_bytes", "got 0"});
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

}  // namespace
}  // namespace opd::model
