// Data parallel training as users launch it: opd-train processes given
// torchrun's variables, talking over Gloo on this machine.
#include "opd/dist/launch_env.h"
#include "opd/model/pretrained.h"
#include "support/test_support.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sys/wait.h>

namespace opd::dist {
namespace {

namespace fs = std::filesystem;
using opd::testing::expect_error;
using opd::testing::free_port;
using opd::testing::ScratchDir;

LaunchEnv from(const std::map<std::string, std::string>& vars) {
  return read_launch_env([&](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(LaunchEnv, ReadsTorchrunAndSlurm) {
  auto e = from({});
  EXPECT_FALSE(e.distributed());
  EXPECT_EQ(e.launcher, "none");
  e = from({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
            {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29400"}});
  EXPECT_EQ(e.launcher, "torchrun");
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.world_size, 8);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world_size, 2);
  EXPECT_EQ(e.master_addr, "node7");
  EXPECT_EQ(e.master_port, 29400);
  EXPECT_FALSE(e.agent_store);
  e = from({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "node7"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"}});
  EXPECT_TRUE(e.agent_store);
  e = from({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}, {"SLURM_TASKS_PER_NODE", "4(x2)"},
            {"MASTER_ADDR", "head"}});
  EXPECT_EQ(e.launcher, "slurm");
  EXPECT_EQ(e.rank, 5);
  EXPECT_EQ(e.local_world_size, 4);
  EXPECT_EQ(e.master_port, 29500);
}

TEST(LaunchEnv, BadVariablesAreNamed) {
  expect_error([] { from({{"RANK", "1"}}); }, {"RANK and WORLD_SIZE"});
  expect_error([] { from({{"RANK", "x"}, {"WORLD_SIZE", "2"}}); }, {"RANK='x'", "not an integer"});
  expect_error([] { from({{"RANK", "2"}, {"WORLD_SIZE", "2"}}); }, {"rank 2", "world size 2"});
  expect_error([] { from({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}); }, {"MASTER_PORT=70000"});
  expect_error([] { from({{"RANK", "0"}, {"WORLD_SIZE", "4"}, {"LOCAL_WORLD_SIZE", "2"}}); },
               {"MASTER_ADDR is not set", "several nodes"});
}

using Result = opd::testing::CommandResult;
Result run(const std::string& command) { return opd::testing::run_command(command); }

const std::string kBin = OPD_BIN_DIR;

// The smoke recipe on fresh tiny models in `dir`, 8 prompts x 2 samples a step.
std::string recipe(const ScratchDir& dir) {
  EXPECT_EQ(run(kBin + "/opd-make-tiny --out " + (dir / "teacher") +
                " --vocab-size 64 --seed 1 --init-std 0.1 --embed-std 0.3").exit_code, 0);
  EXPECT_EQ(run(kBin + "/opd-make-tiny --out " + (dir / "student") + " --vocab-size 64 --seed 2 --init-std 0.02")
                .exit_code, 0);
  return kBin + "/opd-train --config " OPD_SOURCE_DIR "/configs/smoke/opd_tiny.yaml --set student.path=" +
         (dir / "student") + " --set teacher.path=" + (dir / "teacher") +
         " --set data.train=" OPD_SOURCE_DIR "/configs/smoke/prompts.jsonl --set data.prompts_per_step=8"
         " --set data.samples_per_prompt=2 --set rollout.max_new_tokens=12 --set log_every=1000";
}

// torchrun's variables for rank r of `world` on this machine, as a command prefix.
std::string rank_env(int r, int world, int port) {
  const std::string rank = std::to_string(r), size = std::to_string(world);
  return "RANK=" + rank + " WORLD_SIZE=" + size + " LOCAL_RANK=" + rank + " LOCAL_WORLD_SIZE=" + size +
         " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " ";
}

// `world` ranks of `command` with torchrun's variables; each rank's output in
// <log>.<rank>; returns each rank's exit code.
std::vector<int> launch(const std::string& command, int world, const std::string& log, int port = 0,
                        const std::string& extra_env = "") {
  if (port == 0) port = free_port();
  std::string script = "pids=''; ";
  for (int r = 0; r < world; ++r) {
    script += rank_env(r, world, port) + extra_env + " " + command + " > " + log + "." + std::to_string(r) +
              " 2>&1 & pids=\"$pids $!\"; ";
  }
  script += "for p in $pids; do wait $p; echo \"rc=$?\"; done";
  const auto r = run(script);
  std::vector<int> codes;
  for (size_t at = r.output.find("rc="); at != std::string::npos; at = r.output.find("rc=", at + 1)) {
    codes.push_back(std::stoi(r.output.substr(at + 3)));
  }
  return codes;
}

void expect_close_weights(const std::string& a, const std::string& b, double tolerance) {
  auto x = model::load_pretrained(a), y = model::load_pretrained(b);
  auto wx = model::named_weights(x), wy = model::named_weights(y);
  auto start = model::load_pretrained(fs::path(a).parent_path().parent_path() / "student");
  auto w0 = model::named_weights(start);
  double moved = 0;
  for (const auto& [name, t] : wx) {
    EXPECT_LE((t - wy.at(name)).abs().max().item<double>(), tolerance) << name;
    moved = std::max(moved, (t - w0.at(name)).abs().max().item<double>());
  }
  EXPECT_GT(moved, 100 * tolerance) << "training barely moved the weights: the comparison would be vacuous";
}

// torchrun's default rendezvous hosts the store in its agent on MASTER_PORT
// and says so with TORCHELASTIC_USE_AGENT_STORE=True: rank 0 must join it,
// not try to host a second store on the same port.
TEST(DataParallel, JoinsTorchrunsAgentStore) {
  ScratchDir dir;
  const int port = free_port();
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(port);
  options.isServer = true;
  options.waitWorkers = false;
  auto agent = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", options);  // the torchrun agent's store
  const auto codes = launch(recipe(dir) + " --set steps=2 --set dist_timeout_s=60 --set run_dir=" + (dir / "run"), 2,
                            dir / "log", port, "TORCHELASTIC_USE_AGENT_STORE=True");
  EXPECT_EQ(codes, (std::vector<int>{0, 0})) << opd::testing::read_file_bytes(dir / "log.0")
                                             << opd::testing::read_file_bytes(dir / "log.1");
  EXPECT_TRUE(fs::exists(dir / "run/final/model.safetensors"));
}

// The real torchrun (the reference venv's torch): its agent hosts the store,
// starts two opd-train workers with --no-python, and they make the update one
// process makes.
TEST(DataParallel, RealTorchrunTrainsTwoRanks) {
  ScratchDir dir("opd-torchrun");
  const std::string base = recipe(dir) + " --set steps=2 --set dist_timeout_s=120";
  const auto single = run(base + " --set run_dir=" + (dir / "one"));
  ASSERT_EQ(single.exit_code, 0) << single.output;
  const auto r = run("'" OPD_PYTHON "' -m torch.distributed.run --nnodes 1 --nproc-per-node 2 --master-port " +
                     std::to_string(free_port()) + " --no-python " + base + " --set run_dir=" + (dir / "two"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_close_weights(dir / "one/final", dir / "two/final", 1e-4);
}

// N ranks at the same global batch make the update one process makes: the
// sampled tokens are keyed by global row, the loss is normalised over the
// global batch, and gradients are summed.
TEST(DataParallel, TwoAndFourRanksMatchOneProcess) {
  ScratchDir dir("opd-ddp");
  for (const std::string objective : {"opd", "tropd", "entropy_opd"}) {
    SCOPED_TRACE(objective);
    const std::string base = recipe(dir) + " --set steps=3 --set objective.name=" + objective;
    const std::string one = dir / (objective + "-1");
    const auto single = run(base + " --set run_dir=" + one);
    ASSERT_EQ(single.exit_code, 0) << single.output;
    for (int world : {2, 4}) {
      // One world size is enough for the draws' keys and for entropy selection's step-wide ranking.
      if (objective != "opd" && world == 4) continue;
      const std::string many = dir / (objective + "-" + std::to_string(world));
      // Small buckets: several per step, most started while backward still runs.
      const auto codes = launch(base + " --set dist_bucket_mb=0.05 --set run_dir=" + many, world, many + ".log");
      ASSERT_EQ(codes, std::vector<int>(world, 0)) << opd::testing::read_file_bytes(many + ".log.0");
      // Summed per-rank gradients differ from one process's in fp32 rounding
      // (LibTorch 2.13's CPU GEMMs block by batch size); 3 AdamW steps turn
      // that into up to ~3e-5 on a few weights.
      expect_close_weights(one + "/final", many + "/final", 1e-4);
      std::ifstream metrics(many + "/metrics.jsonl");
      for (std::string line; std::getline(metrics, line);) {
        EXPECT_GE(nlohmann::json::parse(line).at("comm_buckets_overlapped").get<double>(), 2.0) << line;
      }
      EXPECT_FALSE(fs::exists(many + ".log.1") && opd::testing::read_file_bytes(many + ".log.1").find("step 3/3") !=
                                                      std::string::npos)
          << "only rank 0 prints progress";
    }
  }
}

// The gradient-noise diagnostic's halves are each rank's first and second
// half of its prompts, summed over the ranks. With prompts A A A A B B B B,
// greedy decoding and no shuffle, two ranks' halves both hold A A B B: their
// cosine is 1 only if each half is summed over both ranks (rank 0's own first
// half, A A, is not parallel to the rest). One process's halves, A A A A and
// B B B B, differ.
TEST(DataParallel, GradientNoiseHalvesAreSummedOverTheRanks) {
  ScratchDir dir("opd-ddp-noise");
  {
    std::ofstream prompts(dir / "ab.jsonl");
    for (const char* p : {"[50, 58, 28]", "[63, 32, 24, 39]"}) {
      for (int i = 0; i < 4; ++i) prompts << "{\"prompt_ids\": " << p << "}\n";
    }
  }
  const std::string base = recipe(dir) + " --set steps=1 --set log_gradient_noise=true --set rollout.temperature=0" +
                           " --set data.shuffle=false --set data.train=" + (dir / "ab.jsonl");
  auto cosine = [](const std::string& run_dir) {
    std::ifstream metrics(run_dir + "/metrics.jsonl");
    std::string line;
    std::getline(metrics, line);
    return nlohmann::json::parse(line).at("grad_split_cosine").get<double>();
  };
  const auto single = run(base + " --set run_dir=" + (dir / "one"));
  ASSERT_EQ(single.exit_code, 0) << single.output;
  EXPECT_LT(cosine(dir / "one"), 0.999);
  const auto codes = launch(base + " --set run_dir=" + (dir / "two"), 2, dir / "two.log");
  ASSERT_EQ(codes, std::vector<int>(2, 0)) << opd::testing::read_file_bytes(dir / "two.log.0");
  EXPECT_NEAR(cosine(dir / "two"), 1.0, 1e-5);
}

// data.eval splits its problems over the ranks and sums their verdicts:
// two ranks report what one process reports (5 problems: uneven shares;
// sampled at temperature 1, so each sample's draws must be keyed by problem).
// Both runs train on the eval set too: any text prompts will do.
TEST(DataParallel, EvaluationOnTwoRanksMatchesOneProcess) {
  ScratchDir dir("opd-ddp-eval");
  for (const char* name : {"teacher", "student"}) {
    ASSERT_EQ(run(kBin + "/opd-make-tiny --char-tokenizer --out " + (dir / name) + " --seed " +
                  (name[0] == 't' ? "1" : "2") + " --init-std 0.1 --embed-std 0.3").exit_code, 0);
  }
  // Prompts unlike each other, so that drawing one problem's samples with another's keys shows.
  const std::vector<std::string> prompts = {"hello there", "what is 7 times 8?", "zzz", "12345 + 678", "abc abc abc"};
  std::ofstream eval(dir / "eval.jsonl");
  for (int i = 0; i < 5; ++i) {
    eval << nlohmann::json({{"prompt", prompts[i]}, {"answer", "a"}, {"domain", i % 2 ? "x" : "y"}}).dump() << "\n";
  }
  eval.close();
  const std::string base = kBin + "/opd-train --config " OPD_SOURCE_DIR "/configs/smoke/opd_tiny.yaml --set student.path=" +
                           (dir / "student") + " --set teacher.path=" + (dir / "teacher") +
                           " --set student.chat_template=qwen3 --set data.train=" + (dir / "eval.jsonl") +
                           " --set data.eval=" + (dir / "eval.jsonl") +
                           " --set data.prompts_per_step=2 --set rollout.max_new_tokens=8 --set steps=1"
                           " --set eval.k=3 --set eval.temperature=1 --set eval.top_p=1 --set eval.max_new_tokens=12"
                           " --set eval.verifier=exact_match --set eval.log_samples=6";
  const auto single = run(base + " --set run_dir=" + (dir / "one"));
  ASSERT_EQ(single.exit_code, 0) << single.output;
  const auto codes = launch(base + " --set run_dir=" + (dir / "two"), 2, dir / "two.log");
  ASSERT_EQ(codes, std::vector<int>(2, 0)) << opd::testing::read_file_bytes(dir / "two.log.0");
  std::ifstream one(dir / "one/eval.jsonl"), two(dir / "two/eval.jsonl");
  std::string a, b;
  ASSERT_TRUE(std::getline(one, a) && std::getline(two, b));  // before training: the same weights on both
  auto x = nlohmann::json::parse(a), y = nlohmann::json::parse(b);
  EXPECT_EQ(x.at("step"), 0);
  for (const char* key : {"avg@3", "pass@1", "pass@3", "x/avg@3", "y/pass@3", "response_length"}) {
    EXPECT_EQ(x.at(key), y.at(key)) << key << ": " << a << " vs " << b;
  }
  // Rank 0 logs its share's first samples (problems 0-1 of its 0-1): the same texts as one process's.
  ASSERT_EQ(y.at("samples").size(), 6u);
  EXPECT_EQ(x.at("samples"), y.at("samples"));
}

// ZeRO-1: each rank keeps and updates a share of the AdamW state; the update is
// the same, and a checkpoint holds one optimizer shard per rank.
TEST(DataParallel, ZeroOneShardsTheOptimizerAndResumes) {
  ScratchDir dir("opd-zero1");
  const std::string base = recipe(dir) + " --set steps=4";
  const auto single = run(base + " --set run_dir=" + (dir / "one"));
  ASSERT_EQ(single.exit_code, 0) << single.output;
  const std::string zero = base + " --set optim.zero_stage=1";
  auto codes = launch(zero + " --set save_every=2 --set run_dir=" + (dir / "two"), 2, dir / "two.log");
  ASSERT_EQ(codes, std::vector<int>(2, 0)) << opd::testing::read_file_bytes(dir / "two.log.0");
  expect_close_weights(dir / "one/final", dir / "two/final", 2e-5);
  EXPECT_TRUE(fs::exists(dir / "two/checkpoint-2/optimizer.rank0.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "two/checkpoint-2/optimizer.rank1.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "two/checkpoint-2/optimizer.safetensors"));

  codes = launch(zero + " --resume-from " + (dir / "two/checkpoint-2") + " --set run_dir=" + (dir / "again"), 2,
                 dir / "again.log");
  ASSERT_EQ(codes, std::vector<int>(2, 0)) << opd::testing::read_file_bytes(dir / "again.log.0");
  EXPECT_EQ(opd::testing::read_file_bytes(dir / "two/final/model.safetensors"),
            opd::testing::read_file_bytes(dir / "again/final/model.safetensors"));
  const auto alone = run(base + " --resume-from " + (dir / "two/checkpoint-2") + " --set run_dir=" + (dir / "x"));
  EXPECT_EQ(alone.exit_code, 1);
  EXPECT_NE(alone.output.find("sharded over 2 ranks"), std::string::npos) << alone.output;
}

// Rank 0's end when, during a long 2-rank run, `fault` (a shell command on
// $p1, rank 1's pid) hits rank 1 once rank 0 has logged two steps.
struct RankZeroEnd {
  int exit_code = -1;
  double seconds = 0;
  std::string log;
};

// Two ranks of a long run; once two steps are logged, `fault` (a shell
// command on $p0 / $p1) hits one, and the end of the other rank, `watched`,
// is returned (the faulted one is then killed).
RankZeroEnd fault_rank(const ScratchDir& dir, int timeout_s, const std::string& fault, int watched = 0) {
  const std::string command = recipe(dir) + " --set steps=100000 --set dist_timeout_s=" + std::to_string(timeout_s) +
                              " --set run_dir=" + (dir / "run");
  const int port = free_port();
  const std::string mine = "$p" + std::to_string(watched), other = "$p" + std::to_string(1 - watched);
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run(rank_env(0, 2, port) + command + " > " + (dir / "log0") + " 2>&1 & p0=$!; " +
                     rank_env(1, 2, port) + command + " > " + (dir / "log1") + " 2>&1 & p1=$!; i=0; " +
                     "while [ \"$(cat " + (dir / "run/metrics.jsonl") + " 2>/dev/null | wc -l)\" -lt 2 ] && " +
                     "[ $i -lt 6000 ]; do sleep 0.01; i=$((i+1)); done; " + fault +
                     "; wait " + mine + "; echo rc=$?; kill -KILL " + other + " 2>/dev/null");
  RankZeroEnd end;
  end.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  end.log = opd::testing::read_file_bytes(dir / ("log" + std::to_string(watched)));
  const auto at = r.output.find("rc=");
  EXPECT_NE(at, std::string::npos) << r.output;
  if (at != std::string::npos) end.exit_code = std::stoi(r.output.substr(at + 3));
  return end;
}

// A rank killed mid-run makes the others fail within the timeout, naming
// the collective and the rank that stopped.
TEST(DataParallel, ADeadRankFailsTheOthersWithinTheTimeout) {
  ScratchDir dir("opd-ddp-dead");
  const auto end = fault_rank(dir, 20, "kill -KILL $p1");
  EXPECT_NE(end.exit_code, 0) << end.log;
  EXPECT_LT(end.seconds, 90) << "rank 0 should fail within the 20 s timeout";
  EXPECT_NE(end.log.find("opd-train: error: rank 0/2: collective '"), std::string::npos) << end.log;
  EXPECT_NE(end.log.find("rank 1 stopped responding"), std::string::npos) << end.log;
}

// A rank that hangs (SIGSTOP) fails the others once the collective timeout
// passes: an error, never a silent hang.
TEST(DataParallel, AStalledRankFailsTheOthersAfterTheTimeout) {
  ScratchDir dir("opd-ddp-stall");
  const auto end = fault_rank(dir, 5, "kill -STOP $p1");
  EXPECT_NE(end.exit_code, 0) << end.log;
  EXPECT_LT(end.seconds, 60) << "rank 0 should give up after the 5 s timeout";
  EXPECT_NE(end.log.find("within the 5 s timeout"), std::string::npos) << end.log;
  EXPECT_NE(end.log.find("rank 1 stopped responding"), std::string::npos) << end.log;
}

// A stalled rank 0, the host of the store, fails rank 1 too: within the
// timeout and a bounded inquiry, never a hang (its heartbeat's store call
// never returns, and no longer holds up the exit).
TEST(DataParallel, AStalledRankZeroFailsTheOtherRankAfterTheTimeout) {
  ScratchDir dir("opd-ddp-stall0");
  const auto end = fault_rank(dir, 5, "kill -STOP $p0", /*watched=*/1);
  EXPECT_NE(end.exit_code, 0) << end.log;
  EXPECT_LT(end.seconds, 60) << "rank 1 should give up after the 5 s timeout: " << end.log;
  EXPECT_NE(end.log.find("rank 1/2: collective '"), std::string::npos) << end.log;
  EXPECT_NE(end.log.find("unreachable: rank 0 exited or stalled"), std::string::npos) << end.log;
}

}  // namespace
}  // namespace opd::dist
