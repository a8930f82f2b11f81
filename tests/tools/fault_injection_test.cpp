// Storage faults in the middle of a run, injected into opd-train's own writes
// (tests/support/write_faults.cpp, LD_PRELOADed): the disk fills up, or the
// process dies (SIGKILL), inside a checkpoint, the final weights or the
// metrics. Each time: one clear line or a clean death, nothing half-written
// left in run_dir once a run has taken it, and --resume ends with exactly the
// weights of the run that was never interrupted.
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace opd::storage_faults {
namespace {

namespace fs = std::filesystem;
using opd::testing::ScratchDir;

const std::string kBin = OPD_BIN_DIR;
const std::string kRecipe = std::string(OPD_SOURCE_DIR) + "/configs/smoke/opd_tiny.yaml";

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// One write the injector saw: the bytes written under run_dir up to and
// including it, and the file it went to.
struct LoggedWrite {
  long long total;
  std::string path;
};

std::vector<LoggedWrite> read_write_log(const std::string& path) {
  std::vector<LoggedWrite> writes;
  std::ifstream in(path);
  for (LoggedWrite w; in >> w.total && std::getline(in >> std::ws, w.path);) writes.push_back(w);
  return writes;
}

// A byte offset in the middle of the middle one of the writes to the files
// `matches` picks (a kill there lands inside that write).
long long middle_of(const std::vector<LoggedWrite>& writes, const std::function<bool(const std::string&)>& matches) {
  std::vector<std::pair<long long, long long>> spans;  // [start, end) of each matching write
  long long before = 0;
  for (const auto& w : writes) {
    if (matches(w.path)) spans.emplace_back(before, w.total);
    before = w.total;
  }
  EXPECT_FALSE(spans.empty()) << "no write matched";
  if (spans.empty()) return 0;
  const auto& [start, end] = spans[spans.size() / 2];
  return (start + end) / 2;
}

// Files a writer left half-done: ".<name>.tmp*" / ".<name>.old*" anywhere in the tree.
std::vector<std::string> temporaries(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name[0] == '.' && (name.find(".tmp") != std::string::npos || name.find(".old") != std::string::npos)) {
      found.push_back(e.path().string());
    }
  }
  return found;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The run's last line is its one error (the progress lines before it are the run's own).
std::string the_error(const std::string& output) {
  int errors = 0;
  std::string last;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    errors += contains(line, "error");
    last = line;
  }
  EXPECT_EQ(errors, 1) << output;
  EXPECT_TRUE(contains(last, "opd-train: error: ")) << output;
  return last;
}

// Three steps with a checkpoint after each, in <dir>/run. The reference run
// logs where its bytes go; a faulty run repeats it on the same path (so the
// byte offsets line up) with a fault at one of them.
class StorageFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = run(kBin + "/opd-make-tiny --out " + (dir_ / "teacher") + " --vocab-size 64 --seed 1 --init-std 0.1");
    auto s = run(kBin + "/opd-make-tiny --out " + (dir_ / "student") + " --vocab-size 64 --seed 2 --init-std 0.02");
    ASSERT_EQ(t.exit_code, 0) << t.output;
    ASSERT_EQ(s.exit_code, 0) << s.output;
    train_ = kBin + "/opd-train --config " + kRecipe + " --set student.path=" + (dir_ / "student") +
             " --set teacher.path=" + (dir_ / "teacher") + " --set data.train=" + OPD_SOURCE_DIR +
             "/configs/smoke/prompts.jsonl --set run_dir=" + run_dir_ +
             " --set steps=3 --set save_every=1 --set keep_checkpoints=0 --set log_every=1000";
    auto r = run(faults("OPD_FAULT_LOG=" + (dir_ / "writes.log")) + train_);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    writes_ = read_write_log(dir_ / "writes.log");
    ASSERT_FALSE(writes_.empty()) << "the injector saw no writes (is LD_PRELOAD honoured?)";
    reference_weights_ = opd::testing::read_file_bytes(run_dir_ + "/final/model.safetensors");
    fs::rename(run_dir_, dir_ / "reference");
  }

  opd::testing::CommandResult run(const std::string& command) { return opd::testing::run_command(command); }

  std::string faults(const std::string& settings) const {
    return "env LD_PRELOAD=" OPD_WRITE_FAULTS " OPD_FAULT_DIR=" + run_dir_ + " " + settings + " ";
  }

  // Resumes without faults: the run finishes with the reference's weights, its
  // metrics are one JSON line per step, and nothing half-written is left.
  void expect_resume_finishes_exactly(const std::string& what) {
    auto r = run(train_ + " --resume");
    ASSERT_EQ(r.exit_code, 0) << what << ": " << r.output;
    EXPECT_EQ(opd::testing::read_file_bytes(run_dir_ + "/final/model.safetensors"), reference_weights_) << what;
    const std::string metrics = opd::testing::read_file_bytes(run_dir_ + "/metrics.jsonl");
    EXPECT_EQ(count_lines(metrics), 3) << what << ":\n" << metrics;
    for (const auto& t : temporaries(run_dir_)) ADD_FAILURE() << what << ": left behind: " << t;
    for (int step = 1; step <= 2; ++step) {  // the last step writes final/ instead
      const std::string ckpt = run_dir_ + "/checkpoint-" + std::to_string(step);
      EXPECT_TRUE(fs::exists(ckpt + "/trainer_state.json")) << what << ": " << ckpt;
    }
  }

  ScratchDir dir_;
  const std::string run_dir_ = dir_ / "run";
  std::string train_;
  std::vector<LoggedWrite> writes_;
  std::string reference_weights_;
};

bool in_checkpoint_2(const std::string& path, const std::string& file) {
  return contains(path, "checkpoint-2") && contains(path, file);
}

TEST_F(StorageFaults, ADiskThatFillsUpMidCheckpointFailsInOneLineAndKeepsTheLastCheckpoint) {
  const long long at = middle_of(writes_, [](const std::string& p) { return in_checkpoint_2(p, "model.safetensors"); });
  auto r = run(faults("OPD_FAULT_ACTION=enospc OPD_FAULT_AT=" + std::to_string(at)) + train_);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const std::string error = the_error(r.output);
  EXPECT_TRUE(contains(error, run_dir_ + "/checkpoint-2: not written")) << error;
  EXPECT_TRUE(contains(error, "checkpoint-1 is the latest")) << error;
  EXPECT_TRUE(contains(error, "No space left on device")) << error;
  EXPECT_TRUE(fs::exists(run_dir_ + "/checkpoint-1/trainer_state.json"));
  EXPECT_FALSE(fs::exists(run_dir_ + "/checkpoint-2"));
  EXPECT_FALSE(fs::exists(run_dir_ + "/final"));
  for (const auto& t : temporaries(run_dir_)) ADD_FAILURE() << "a failed write left behind " << t;
  expect_resume_finishes_exactly("after the disk filled up");
}

TEST_F(StorageFaults, ADiskThatFillsUpWhileLoggingMetricsFailsInOneLine) {
  const long long at = middle_of(writes_, [](const std::string& p) { return contains(p, "metrics.jsonl"); });
  auto r = run(faults("OPD_FAULT_ACTION=enospc OPD_FAULT_AT=" + std::to_string(at)) + train_);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const std::string error = the_error(r.output);
  EXPECT_TRUE(contains(error, "metrics.jsonl")) << error;
  EXPECT_TRUE(contains(error, "No space left on device")) << error;
  expect_resume_finishes_exactly("after the metrics could not be written");
}

// SIGKILL inside each file a checkpoint and the end of a run write, and
// inside the metrics: each resume ends where the uninterrupted run did.
TEST_F(StorageFaults, ASigkillInsideAnyWriteResumesToTheSameWeights) {
  const std::vector<std::pair<std::string, std::function<bool(const std::string&)>>> points = {
      {"checkpoint-2 weights", [](const std::string& p) { return in_checkpoint_2(p, "model.safetensors"); }},
      {"checkpoint-2 optimizer", [](const std::string& p) { return in_checkpoint_2(p, "optimizer"); }},
      {"checkpoint-2 trainer state", [](const std::string& p) { return in_checkpoint_2(p, "trainer_state"); }},
      {"final weights", [](const std::string& p) { return contains(p, "final") && contains(p, "model.safetensors"); }},
      {"metrics", [](const std::string& p) { return contains(p, "metrics.jsonl"); }},
  };
  for (const auto& [what, matches] : points) {
    fs::remove_all(run_dir_);
    const long long at = middle_of(writes_, matches);
    auto r = run(faults("OPD_FAULT_ACTION=kill OPD_FAULT_AT=" + std::to_string(at)) + train_ + "; echo exit=$?");
    EXPECT_TRUE(contains(r.output, "exit=137")) << what << ": the fault did not kill the run: " << r.output;
    expect_resume_finishes_exactly("killed inside the " + what);
  }
}

}  // namespace
}  // namespace opd::storage_faults
