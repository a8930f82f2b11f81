// Checkpoints and resume: a resumed run is bitwise the uninterrupted one; a
// stop request checkpoints at a step boundary; non-finite steps are skipped and
// never saved; an interrupted write leaves the previous checkpoint loadable.
#include "opd/model/pretrained.h"
#include "opd/train/checkpoint.h"
#include "opd/train/stop_signal.h"
#include "opd/train/trainer.h"
#include "support/test_support.h"
#include "train/smoke_setup.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace opd::train {
namespace {

namespace fs = std::filesystem;
using opd::testing::expect_error;
using opd::testing::ScratchDir;

TrainConfig short_run(const ScratchDir& dir, const std::string& run, int64_t steps) {
  auto c = smoke_config(dir, steps);
  c.run_dir = dir / run;
  c.rollout.max_new_tokens = 8;
  c.data.prompts_per_step = 4;
  c.log_every = 100;
  return c;
}

void expect_same_weights(const std::string& a, const std::string& b) {
  auto x = model::load_pretrained(a), y = model::load_pretrained(b);
  auto wx = model::named_weights(x), wy = model::named_weights(y);
  ASSERT_EQ(wx.size(), wy.size());
  for (const auto& [name, t] : wx) EXPECT_TRUE(at::equal(t, wy.at(name))) << name << ": " << a << " vs " << b;
}

std::vector<nlohmann::json> metrics_lines(const std::string& run_dir) {
  std::vector<nlohmann::json> out;
  std::ifstream in(fs::path(run_dir) / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

TEST(Checkpoint, ResumeAndStopRequestGiveTheUninterruptedRunBitwise) {
  ScratchDir dir("opd-resume");
  auto whole = short_run(dir, "whole", 6);
  whole.save_every = 3;
  Trainer(whole).run();
  const std::string checkpoint = dir / "whole/checkpoint-3";
  ASSERT_EQ(latest_checkpoint(whole.run_dir), checkpoint);
  EXPECT_EQ(read_trainer_state(checkpoint).step, 3);

  // From the checkpoint in another run directory.
  auto resumed = short_run(dir, "resumed", 6);
  Trainer second(resumed);
  second.resume(checkpoint);
  EXPECT_EQ(second.next_step(), 3);
  const auto summary = second.run();
  EXPECT_EQ(summary.steps, 6);
  expect_same_weights(dir / "whole/final", dir / "resumed/final");

  // A stop request: the run checkpoints after its first step and returns;
  // --resume's path (latest_checkpoint) finishes it, with the history kept.
  auto stopped = short_run(dir, "stopped", 6);
  request_stop();
  const auto first = Trainer(stopped).run();
  EXPECT_FALSE(stop_requested()) << "an honoured request is cleared";
  EXPECT_TRUE(first.stopped);
  EXPECT_EQ(first.steps, 1);
  EXPECT_FALSE(fs::exists(dir / "stopped/final"));
  ASSERT_EQ(latest_checkpoint(stopped.run_dir), dir / "stopped/checkpoint-1");
  Trainer rest(stopped);
  rest.resume(latest_checkpoint(stopped.run_dir));
  EXPECT_FALSE(rest.run().stopped);
  expect_same_weights(dir / "whole/final", dir / "stopped/final");
  const auto a = metrics_lines(whole.run_dir), b = metrics_lines(stopped.run_dir);
  ASSERT_EQ(a.size(), 6u);
  ASSERT_EQ(b.size(), 6u);
  for (size_t s = 0; s < 6; ++s) {
    EXPECT_EQ(b[s].at("step"), s);
    EXPECT_EQ(a[s].at("loss"), b[s].at("loss")) << "step " << s;
  }
}

TEST(Checkpoint, NonFiniteStepsAreSkippedAndNeverSaved) {
  ScratchDir dir("opd-nan");
  auto c = short_run(dir, "run", 3);
  c.save_every = 1;
  c.keep_checkpoints = 0;
  Trainer trainer(c);
  trainer.inject_non_finite_loss(1);
  const auto summary = trainer.run();
  const auto lines = metrics_lines(c.run_dir);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].at("skipped"), 0.0);
  EXPECT_EQ(lines[1].at("skipped"), 1.0);
  EXPECT_TRUE(lines[1].at("loss").is_null()) << "the NaN is logged as null";
  EXPECT_EQ(lines[2].at("skipped"), 0.0);
  // The skipped step left the weights as they were, and every save is finite.
  expect_same_weights(dir / "run/checkpoint-1", dir / "run/checkpoint-2");
  for (const char* saved : {"checkpoint-1", "checkpoint-2", "final"}) {
    auto m = model::load_pretrained(dir / (std::string("run/") + saved));
    for (const auto& [name, t] : model::named_weights(m)) {
      EXPECT_TRUE(at::isfinite(t).all().item<bool>()) << saved << ": " << name;
    }
  }
  EXPECT_EQ(read_trainer_state(dir / "run/checkpoint-1").consecutive_skips, 0);
  EXPECT_EQ(read_trainer_state(dir / "run/checkpoint-2").consecutive_skips, 1) << "saved right after the skip";

  // Too many in a row stops the run.
  c.max_skipped_steps = 1;
  c.run_dir = dir / "stops";
  Trainer stops(c);
  stops.inject_non_finite_loss(0);
  expect_error([&] { stops.run(); }, {"step 0", "1 steps in a row", "max_skipped_steps"});
  EXPECT_FALSE(fs::exists(dir / "stops/final"));
}

TEST(Checkpoint, InterruptedWritesAndOldCheckpointsAreLeftOut) {
  ScratchDir dir("opd-ckpt-dirs");
  auto c = short_run(dir, "run", 5);
  c.save_every = 1;
  c.keep_checkpoints = 2;
  Trainer(c).run();
  // Only the newest two are kept.
  EXPECT_FALSE(fs::exists(dir / "run/checkpoint-2"));
  EXPECT_TRUE(fs::exists(dir / "run/checkpoint-3"));
  EXPECT_TRUE(fs::exists(dir / "run/checkpoint-4"));

  // A crash mid-write leaves a temporary (here with a truncated weight file),
  // and a directory that never got its state: both are passed over.
  fs::create_directories(checkpoint_temp_dir(c.run_dir, 6));
  std::ofstream(fs::path(checkpoint_temp_dir(c.run_dir, 6)) / "model.safetensors") << "\x10\x00\x00";
  fs::create_directories(dir / "run/checkpoint-7");
  fs::copy_file(dir / "run/checkpoint-4/config.json", dir / "run/checkpoint-7/config.json");
  EXPECT_EQ(latest_checkpoint(c.run_dir), dir / "run/checkpoint-4");
  {
    Trainer again(c);
    // The run that now holds the directory removed the dead write's temporary.
    EXPECT_FALSE(fs::exists(checkpoint_temp_dir(c.run_dir, 6)));
    again.resume(latest_checkpoint(c.run_dir));
    EXPECT_EQ(again.next_step(), 4);
    // Resuming needs a checkpoint of this run.
    expect_error([&] { again.resume(dir / "run/checkpoint-7"); }, {"not a checkpoint", "trainer_state.json"});
    // One run per directory: a second is refused, naming the holder.
    expect_error([&] { Trainer second(c); },
                 {"run_dir '" + c.run_dir + "' is in use by another run (opd pid " + std::to_string(::getpid())});
  }
  auto other_seed = c;
  other_seed.seed = 99;
  Trainer other(other_seed);  // the lock went with the trainer that held it
  expect_error([&] { other.resume(dir / "run/checkpoint-4"); }, {"checkpoint-4", "seed 0", "seed 99"});
  EXPECT_EQ(latest_checkpoint(dir / "nothing_here"), "");
}

// A trainer state with a negative count is refused naming the key; a stray
// directory whose number no run reaches is not taken for a checkpoint.
TEST(Checkpoint, ImpossibleStatesAreRefused) {
  ScratchDir dir("opd-ckpt-bad-state");
  TrainerState state;
  state.step = 4;
  fs::create_directories(dir / "run/checkpoint-4");
  write_trainer_state(dir / "run/checkpoint-4", state);
  EXPECT_EQ(read_trainer_state(dir / "run/checkpoint-4").step, 4);
  for (const char* key : {"step", "consecutive_skips"}) {
    auto j = nlohmann::json::parse(opd::testing::read_file_bytes(dir / "run/checkpoint-4/trainer_state.json"));
    j[key] = -3;
    fs::create_directories(dir / "bad");
    opd::testing::write_file_bytes(dir / "bad/trainer_state.json", j.dump());
    expect_error([&] { read_trainer_state(dir / "bad"); },
                 {"trainer_state.json: '" + std::string(key) + "' is -3", "never negative"});
  }
  fs::create_directories(dir / "run/checkpoint-99999999999999999999");
  write_trainer_state(dir / "run/checkpoint-99999999999999999999", state);
  EXPECT_EQ(latest_checkpoint(dir / "run"), dir / "run/checkpoint-4");
}

// LoRA: only the adapters train; saved models (checkpoints, final) are plain
// merged HF directories; a resume continues the adapters exactly.
TEST(Checkpoint, LoraTrainsAdaptersSavesMergedAndResumes) {
  ScratchDir dir("opd-lora-run");
  auto c = short_run(dir, "whole", 4);
  c.save_every = 2;
  c.lora.rank = 4;
  c.lora.alpha = 8;
  c.lora.dropout = 0.1;
  c.optim.lr = 5e-2;
  Trainer trainer(c);
  trainer.run();
  auto base = model::load_pretrained(dir / "student");
  auto before = model::named_weights(base), after = model::named_weights(trainer.student());
  for (const auto& [name, t] : before) EXPECT_TRUE(at::equal(t, after.at(name))) << "base weight moved: " << name;
  auto final_model = model::load_pretrained(dir / "whole/final");
  bool changed = false;
  for (const auto& [name, t] : model::named_weights(final_model)) changed = changed || !at::equal(t, before.at(name));
  EXPECT_TRUE(changed) << "the merged adapters should change the saved weights";
  EXPECT_TRUE(fs::exists(dir / "whole/checkpoint-2/adapter.safetensors"));

  auto resumed = short_run(dir, "resumed", 4);
  resumed.lora = c.lora;
  resumed.optim.lr = c.optim.lr;
  Trainer second(resumed);
  second.resume(dir / "whole/checkpoint-2");
  second.run();
  expect_same_weights(dir / "whole/final", dir / "resumed/final");
}

}  // namespace
}  // namespace opd::train
