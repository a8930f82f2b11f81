// What opd-train writes, read by the libraries that define the formats
// (tests/reference/): the trained student (LoRA merged) loads in transformers'
// AutoModelForCausalLM with opd's logits; every .safetensors file of the run
// (weights, optimizer state, adapters, single and sharded) opens in the
// `safetensors` library with the tensors opd wrote; the TensorBoard event
// file reads in TensorBoard's own loader with the scalars of metrics.jsonl.
#include "opd/model/pretrained.h"
#include "opd/model/safetensors.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <ATen/core/grad_mode.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace opd {
namespace {

namespace fs = std::filesystem;
using opd::testing::read_file_bytes;
using opd::testing::run_command;
using opd::testing::run_reference;
using opd::testing::ScratchDir;

// A finished 3-step LoRA run of the smoke recipe with a checkpoint at step 2,
// its student saved in shards of 64 KiB. Returns the run directory.
// The opd-train command of that run, without its steps.
std::string train_command(const ScratchDir& dir) {
  return std::string(OPD_BIN_DIR "/opd-train --config " OPD_SOURCE_DIR "/configs/smoke/opd_tiny.yaml") +
         " --set student.path=" + (dir / "student") + " --set teacher.path=" + (dir / "teacher") +
         " --set data.train=" OPD_SOURCE_DIR "/configs/smoke/prompts.jsonl --set run_dir=" + (dir / "run") +
         " --set save_every=2 --set lora.rank=4";
}

std::string train_run(const ScratchDir& dir) {
  for (const auto& [name, seed] : std::map<std::string, int>{{"teacher", 1}, {"student", 2}}) {
    const auto r = run_command(std::string(OPD_BIN_DIR "/opd-make-tiny --out ") + (dir / name) + " --vocab-size 64 --seed " +
                               std::to_string(seed) + " --char-tokenizer");
    EXPECT_EQ(r.exit_code, 0) << r.output;
  }
  const auto r = run_command(train_command(dir) + " --set steps=3");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return dir / "run";
}

TEST(HfInterop, TrainedStudentLoadsInTransformersWithTheSameLogits) {
  ScratchDir dir("opd-hf-interop");
  const std::string final_dir = train_run(dir) + "/final";
  ASSERT_TRUE(fs::exists(final_dir + "/generation_config.json"));
  const auto ids = at::randint(0, 64, {2, 9}, at::kLong);
  auto mask = at::ones_like(ids);
  mask[1].slice(0, 6).zero_();
  model::write_safetensors(dir / "ids.safetensors", {{"input_ids", ids}, {"attention_mask", mask}});
  const auto r = run_reference("hf_model.py", "logits " + final_dir + " " + (dir / "ids.safetensors") + " " +
                                                  (dir / "logits.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto student = model::load_pretrained(final_dir);
  student->eval();
  at::NoGradGuard no_grad;
  const auto ours = student->forward(ids, model::position_ids_from_mask(mask), mask);
  const auto theirs = model::read_safetensors(dir / "logits.safetensors").tensors.at("logits");
  const auto real = mask.to(at::kBool).unsqueeze(-1).expand_as(ours);
  EXPECT_LE((ours - theirs).abs().masked_select(real).max().item<double>(), 1e-4);
}

// A LoRA run's adapters alone (final_adapter/, PEFT's layout) applied by
// PEFT to the untrained student give the logits of the merged final/.
TEST(HfInterop, TrainedAdaptersLoadInPeftWithTheMergedLogits) {
  ScratchDir dir("opd-hf-peft");
  const std::string run_dir = train_run(dir);
  const auto config = nlohmann::json::parse(read_file_bytes(run_dir + "/final_adapter/adapter_config.json"));
  EXPECT_EQ(config.at("r"), 4);
  EXPECT_EQ(config.at("base_model_name_or_path"), fs::absolute(dir / "student").string());
  const auto ids = at::randint(0, 64, {2, 9}, at::kLong);
  const auto mask = at::ones_like(ids);
  model::write_safetensors(dir / "ids.safetensors", {{"input_ids", ids}, {"attention_mask", mask}});
  auto r = run_reference("hf_model.py", "peft_logits " + (dir / "student") + " " + run_dir + "/final_adapter " +
                                            (dir / "ids.safetensors") + " " + (dir / "peft.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_reference("hf_model.py", "logits " + (dir / "student") + " " + (dir / "ids.safetensors") + " " +
                                       (dir / "base.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto merged = model::load_pretrained(run_dir + "/final");
  merged->eval();
  at::NoGradGuard no_grad;
  const auto ours = merged->forward(ids, model::position_ids_from_mask(mask), mask);
  const auto peft = model::read_safetensors(dir / "peft.safetensors").tensors.at("logits");
  const auto base = model::read_safetensors(dir / "base.safetensors").tensors.at("logits");
  EXPECT_LE((ours - peft).abs().max().item<double>(), 1e-4);
  EXPECT_GT((ours - base).abs().max().item<double>(), 1e-2) << "the adapters barely moved: the check would be vacuous";
}

TEST(HfInterop, EverySafetensorsFileReadsBackInTheLibrary) {
  ScratchDir dir("opd-hf-interop");
  const std::string run_dir = train_run(dir);
  // A sharded student as well: the same weights in several files with an index.
  auto student = model::load_pretrained(run_dir + "/final");
  model::SaveOptions sharded;
  sharded.max_shard_bytes = 64 << 10;
  model::save_pretrained(student, dir / "sharded", sharded);

  std::vector<std::string> files;
  for (const auto& root : {run_dir, dir / "sharded"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (entry.path().extension() == ".safetensors") files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  auto has = [&](const std::string& part) {
    return std::any_of(files.begin(), files.end(), [&](const auto& f) { return f.find(part) != std::string::npos; });
  };
  ASSERT_TRUE(has("final/model.safetensors") && has("checkpoint-2/optimizer") && has("checkpoint-2/adapter") &&
              has("sharded/model-00002-of-"))
      << ::testing::PrintToString(files);
  std::string args = "safetensors " + (dir / "copies");
  for (const auto& f : files) args += " '" + f + "'";
  fs::create_directories(dir / "copies");
  const auto r = run_reference("read_back.py", args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (size_t i = 0; i < files.size(); ++i) {
    const auto ours = model::read_safetensors(files[i]).tensors;
    const auto theirs = model::read_safetensors(dir / ("copies/" + std::to_string(i) + ".safetensors")).tensors;
    ASSERT_EQ(ours.size(), theirs.size()) << files[i];
    for (const auto& [name, tensor] : ours) {
      ASSERT_TRUE(theirs.count(name)) << files[i] << ": " << name;
      EXPECT_EQ(theirs.at(name).scalar_type(), tensor.scalar_type()) << files[i] << ": " << name;
      EXPECT_TRUE(at::equal(theirs.at(name), tensor)) << files[i] << ": " << name;
    }
  }
}

TEST(HfInterop, TensorBoardReadsTheEventFile) {
  ScratchDir dir("opd-hf-interop");
  const std::string run_dir = train_run(dir);
  std::vector<fs::path> events;
  for (const auto& entry : fs::directory_iterator(run_dir + "/tensorboard")) events.push_back(entry.path());
  ASSERT_EQ(events.size(), 1u);
  const auto r = run_reference("read_back.py", "tensorboard '" + events[0].string() + "' " + (dir / "tb.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto tb = nlohmann::json::parse(read_file_bytes(dir / "tb.json"));
  EXPECT_EQ(tb["version"], "brain.Event:2");
  std::map<std::pair<int64_t, std::string>, double> scalars;
  for (const auto& s : tb["scalars"]) scalars[{s[0].get<int64_t>(), s[1].get<std::string>()}] = s[2].get<double>();

  // Every number of metrics.jsonl is there, under the same step, as train/<name>.
  std::istringstream lines(read_file_bytes(run_dir + "/metrics.jsonl"));
  int64_t checked = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto m = nlohmann::json::parse(line);
    const int64_t step = m["step"];
    for (const auto& [key, value] : m.items()) {
      if (!value.is_number() || key == "step") continue;
      const auto it = scalars.find({step, "train/" + key});
      ASSERT_NE(it, scalars.end()) << "step " << step << " " << key;
      EXPECT_NEAR(it->second, value.get<double>(), 1e-6 * std::max(1.0, std::abs(value.get<double>())))
          << "step " << step << " " << key;
      ++checked;
    }
  }
  EXPECT_GT(checked, 30);
}

// A resume replays steps from its checkpoint: TensorBoard's loader shows each
// step once, with metrics.jsonl's values. A resume to fewer steps than the run
// finished at is refused, and one to the same steps does nothing; neither
// touches final/ or metrics.jsonl.
TEST(HfInterop, AResumedRunShowsEachStepOnceAndAFinishedRunIsNotCutBack) {
  ScratchDir dir("opd-hf-interop");
  const std::string run_dir = train_run(dir);  // 3 steps, checkpoint-2, final/
  const auto weights = read_file_bytes(run_dir + "/final/model.safetensors");
  const auto metrics = read_file_bytes(run_dir + "/metrics.jsonl");
  auto r = run_command(train_command(dir) + " --set steps=2 --resume");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("finished at step 3"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("raise steps above 3"), std::string::npos) << r.output;
  r = run_command(train_command(dir) + " --set steps=3 --resume");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("nothing to do"), std::string::npos) << r.output;
  EXPECT_EQ(read_file_bytes(run_dir + "/final/model.safetensors"), weights);
  EXPECT_EQ(read_file_bytes(run_dir + "/metrics.jsonl"), metrics);

  r = run_command(train_command(dir) + " --set steps=5 --resume");  // from checkpoint-2: steps 2..4
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_reference("read_back.py", "tensorboard_dir '" + run_dir + "/tensorboard' " + (dir / "tb.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto tb = nlohmann::json::parse(read_file_bytes(dir / "tb.json"));
  std::vector<double> logged;
  std::istringstream lines(read_file_bytes(run_dir + "/metrics.jsonl"));
  for (std::string line; std::getline(lines, line);) logged.push_back(nlohmann::json::parse(line).at("loss"));
  ASSERT_EQ(logged.size(), 5u);
  const auto& loss = tb.at("train/loss");
  ASSERT_EQ(loss.size(), 5u) << "each step once: " << loss.dump();
  for (size_t s = 0; s < 5; ++s) {
    EXPECT_EQ(loss[s][0].get<int64_t>(), static_cast<int64_t>(s));
    EXPECT_NEAR(loss[s][1].get<double>(), logged[s], 1e-5 * std::max(1.0, std::abs(logged[s])));
  }
}

}  // namespace
}  // namespace opd
