// The binaries as a user runs them: exit codes, one-line errors, outputs.
#include "opd/data/prompt_dataset.h"
#include "opd/model/pretrained.h"
#include "opd/rollout/generation_settings.h"
#include "opd/rollout/generator.h"
#include "opd/rollout/sequence_packing.h"
#include "opd/train/prompt_formats.h"
#include "support/test_support.h"
#include "support/tiny_lm.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

namespace opd {
namespace {

namespace fs = std::filesystem;
using opd::testing::ScratchDir;

using Result = opd::testing::CommandResult;
Result run(const std::string& command) { return opd::testing::run_command(command); }

const std::string kBin = OPD_BIN_DIR;
const std::string kRecipe = std::string(OPD_SOURCE_DIR) + "/configs/smoke/opd_tiny.yaml";

// A recipe whose models live in `dir` (made by opd-make-tiny as quickstart does).
std::string make_models(const ScratchDir& dir) {
  auto t = run(kBin + "/opd-make-tiny --out " + (dir / "teacher") + " --vocab-size 64 --seed 1 --init-std 0.1 --embed-std 0.3");
  auto s = run(kBin + "/opd-make-tiny --out " + (dir / "student") + " --vocab-size 64 --seed 2 --init-std 0.02");
  EXPECT_EQ(t.exit_code, 0) << t.output;
  EXPECT_EQ(s.exit_code, 0) << s.output;
  return " --set student.path=" + (dir / "student") + " --set teacher.path=" + (dir / "teacher") +
         " --set data.train=" + OPD_SOURCE_DIR + "/configs/smoke/prompts.jsonl --set run_dir=" + (dir / "run");
}

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST(Cli, MakeTinyWritesALoadableHfDirectory) {
  ScratchDir dir;
  auto r = run(kBin + "/opd-make-tiny --out " + (dir / "m") + " --arch llama --layers 3 --untied --dtype bfloat16 --seed 4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("llama"), std::string::npos);
  auto model = model::load_pretrained(dir / "m");
  EXPECT_EQ(model->config().num_hidden_layers, 3);
  EXPECT_FALSE(model->config().tie_word_embeddings);
  EXPECT_EQ(model->dtype(), at::kBFloat16);
  auto again = run(kBin + "/opd-make-tiny --out " + (dir / "m2") + " --arch llama --layers 3 --untied --dtype bfloat16 --seed 4");
  EXPECT_EQ(opd::testing::read_file_bytes(dir / "m/model.safetensors"),
            opd::testing::read_file_bytes(dir / "m2/model.safetensors")) << "same seed, same bytes";
}

// Every tool says its version and shows its defaults in --help.
TEST(Cli, EveryToolHasVersionAndShowsDefaults) {
  for (const char* tool : {"opd-train", "opd-generate", "opd-eval", "opd-prepare", "opd-tokenize", "opd-make-tiny",
                           "opd-bench"}) {
    auto r = run(kBin + "/" + tool + " --version");
    EXPECT_EQ(r.exit_code, 0) << tool << ": " << r.output;
    EXPECT_EQ(r.output.rfind("opd 0.", 0), 0u) << tool << ": " << r.output;
    EXPECT_NE(r.output.find("LibTorch 2."), std::string::npos) << tool << ": " << r.output;
  }
  auto r = run(kBin + "/opd-make-tiny --help");
  EXPECT_NE(r.output.find("--vocab-size INT:POSITIVE=256"), std::string::npos) << "the default vocabulary: " << r.output;
  EXPECT_NE(r.output.find("151645"), std::string::npos) << "--eos-id says what to give for Qwen3: " << r.output;
  r = run(kBin + "/opd-generate --help");
  EXPECT_NE(r.output.find("=256"), std::string::npos) << "the default --max-new-tokens: " << r.output;
  EXPECT_NE(r.output.find("=32"), std::string::npos) << "the default --batch: " << r.output;
}

// A config.json EOS that is an ordinary character of the model's tokenizer is warned about.
TEST(Cli, AnEosThatIsNotASpecialTokenIsWarnedAbout) {
  ScratchDir dir;
  auto r = run(kBin + "/opd-make-tiny --char-tokenizer --eos-id 5 --out " + (dir / "m"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run(kBin + "/opd-generate --model " + (dir / "m") + " --prompt hi --max-new-tokens 2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("config.json): eos_token_id 5 is '"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not a special token"), std::string::npos) << r.output;
  r = run(kBin + "/opd-make-tiny --char-tokenizer --out " + (dir / "ok"));
  r = run(kBin + "/opd-generate --model " + (dir / "ok") + " --prompt hi --max-new-tokens 2");
  EXPECT_EQ(r.output.find("eos_token_id"), std::string::npos) << "the char tokenizer's own EOS is special: " << r.output;
}

// Another process holding run_dir's lock refuses the run, naming the holder;
// once that process dies (SIGKILL: the kernel drops its lock) the next run
// takes the directory over.
TEST(Cli, ARunDirectoryHeldByAnotherProcessIsRefused) {
  ScratchDir dir;
  const std::string train = kBin + "/opd-train --config " + kRecipe + make_models(dir) + " --set steps=1";
  fs::create_directories(dir / "run");
  const std::string lock = dir / "run/.opd.lock";
  const auto holder = run("sh -c 'exec 9>>" + lock + "; flock -x 9; echo \"opd pid 4242 on elsewhere\" >&9; "
                          "exec sleep 60' > /dev/null 2>&1 & echo $!");
  const std::string pid = holder.output.substr(0, holder.output.find_first_of("\n"));
  for (int i = 0; i < 100 && opd::testing::read_file_bytes(lock).empty(); ++i) ::usleep(20000);
  auto r = run(train);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("is in use by another run (opd pid 4242 on elsewhere"), std::string::npos) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  run("kill -KILL " + pid + "; sleep 0.2");
  r = run(train);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

// Inputs the adversarial user tried (issue 20): each one clear line, and
// nothing replaced that is not a model directory.
TEST(Cli, BadToolInputsAreOneClearLine) {
  ScratchDir dir;
  std::ofstream(dir / "notes.txt") << "keep me\n";
  auto r = run(kBin + "/opd-make-tiny --out " + (dir / "notes.txt"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("notes.txt: is a file; refusing to replace it"), std::string::npos) << r.output;
  EXPECT_EQ(opd::testing::read_file_bytes(dir / "notes.txt"), "keep me\n");
  fs::create_directories(dir / "photos");
  std::ofstream(dir / "photos/a.jpg") << "x";
  r = run(kBin + "/opd-make-tiny --out " + (dir / "photos"));
  EXPECT_NE(r.output.find("not a model directory (no config.json); refusing"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir / "photos/a.jpg"));
  // A model opd-make-tiny did not write (no marker) is never replaced; one it wrote is.
  ASSERT_EQ(run(kBin + "/opd-make-tiny --out " + (dir / "tiny")).exit_code, 0);
  fs::copy(dir / "tiny", dir / "real", fs::copy_options::recursive);
  fs::remove(dir / "real/.opd-make-tiny");
  const std::string real_weights = opd::testing::read_file_bytes(dir / "real/model.safetensors");
  r = run(kBin + "/opd-make-tiny --seed 9 --out " + (dir / "real"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("holds a model opd-make-tiny did not write; refusing"), std::string::npos) << r.output;
  EXPECT_EQ(opd::testing::read_file_bytes(dir / "real/model.safetensors"), real_weights);
  r = run(kBin + "/opd-make-tiny --seed 9 --out " + (dir / "tiny"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = run(kBin + "/opd-make-tiny --out ''");
  EXPECT_NE(r.output.find("--out: give a directory"), std::string::npos) << r.output;
  r = run(kBin + "/opd-make-tiny --vocab-size 64 --eos-id 64 --out " + (dir / "m"));
  EXPECT_NE(r.output.find("--eos-id 64 is outside the vocabulary [0, 64)"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "m"));
  ASSERT_EQ(run(kBin + "/opd-make-tiny --char-tokenizer --out " + (dir / "m")).exit_code, 0);
  r = run(kBin + "/opd-generate --model " + (dir / "m") + " --dtype float16 --prompt hi --max-new-tokens 2");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--dtype: float16 does not run on the CPU"), std::string::npos) << r.output;
  r = run(kBin + "/opd-generate --model " + (dir / "m") + " --seed -1 --prompt hi --max-new-tokens 2");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--seed: expected a whole number >= 0, got '-1'"), std::string::npos) << r.output;
  std::ofstream(dir / "t.jsonl") << "{\"prompt\": \"hi\", \"answer\": \"2\"}\n";
  r = run(kBin + "/opd-eval --model " + (dir / "m") + " --data " + (dir / "t.jsonl") + " --pass-at 1,x");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("--pass-at 1,x: 'x' is not a positive integer"), std::string::npos) << r.output;
  for (const auto& out : {r}) EXPECT_EQ(count_lines(out.output), 1) << out.output;
}

// The benchmarks read their flags with CLI11 as the tools do: --help runs
// nothing, and a bad, missing or unknown value is one line naming the flag.
TEST(Cli, BenchmarksRefuseBadFlagsInOneLine) {
  if (!fs::exists(kBin + "/bench_distill_ops")) GTEST_SKIP() << "the benchmarks are not built (OPD_BUILD_BENCHMARKS)";
  for (const std::string bench : {"bench_rollout", "bench_tokenizer", "bench_distill_ops"}) {
    auto r = run(kBin + "/" + bench + " --help");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("--repeats"), std::string::npos) << bench << ": " << r.output;
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"bench_rollout --batch x", "--batch"},
      {"bench_rollout --batch -3", "--batch"},
      {"bench_rollout --batch", "--batch"},
      {"bench_tokenizer --tokenizer /no/such/tokenizer.json", "--tokenizer"},
      {"bench_tokenizer --mb x", "--mb"},
      {"bench_distill_ops --rows x", "--rows"},
      {"bench_distill_ops --rows 1024,0", "--rows"},
      {"bench_distill_ops --dtypes fp8", "--dtypes"},
      {"bench_distill_ops --frobnicate 1", "frobnicate"},
  };
  for (const auto& [args, flag] : bad) {
    const auto r = run(kBin + "/" + args);
    EXPECT_NE(r.exit_code, 0) << args << ": " << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << args << ": " << r.output;
    EXPECT_NE(r.output.find(flag), std::string::npos) << args << ": " << r.output;
  }
}

TEST(Cli, TrainRunsAndReportsBeforeAfter) {
  ScratchDir dir;
  auto r = run(kBin + "/opd-train --config " + kRecipe + make_models(dir) + " --set steps=3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The headline is a divergence every objective shares; the surrogate is labelled as one.
  EXPECT_NE(r.output.find("step 3/3 | kl_k1 "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" | surrogate "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("| loss "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("before -> after 3 steps"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir / "run/final/model.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "run/metrics.jsonl"));
}

// Objectives that log no kl_k1 of their own steps (sft) still end with the summary and exit 0.
TEST(Cli, TrainWithSftEndsCleanly) {
  ScratchDir dir;
  auto r = run(kBin + "/opd-train --config " + kRecipe + make_models(dir) + " --set steps=2 --set 'objective={name: sft}'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("step 2/2 | nll "), std::string::npos) << "sft's headline is its nll: " << r.output;
  EXPECT_NE(r.output.find("before -> after 2 steps"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir / "run/final/model.safetensors"));
}

// Preemption: SIGTERM checkpoints at the next step boundary and exits 0;
// --resume finishes the run with the weights an uninterrupted run reaches.
TEST(Cli, SigtermCheckpointsAndResumeFinishesBitwise) {
  ScratchDir dir;
  const std::string models = make_models(dir);
  const std::string train = kBin + "/opd-train --config " + kRecipe + models + " --set log_every=1000";
  const std::string run_dir = dir / "run";
  // Start a long run, wait for its second logged step, then SIGTERM it.
  auto r = run("(" + train + " --set steps=100000 > " + (dir / "log") + " 2>&1 & pid=$!; i=0; "
               "while [ \"$(cat " + run_dir + "/metrics.jsonl 2>/dev/null | wc -l)\" -lt 2 ] && [ $i -lt 3000 ]; "
               "do sleep 0.01; i=$((i+1)); done; kill -TERM $pid; wait $pid; echo exit=$?)");
  const std::string log = opd::testing::read_file_bytes(dir / "log");
  ASSERT_NE(r.output.find("exit=0"), std::string::npos) << r.output << log;
  const auto at = log.find("stopped after step ");
  ASSERT_NE(at, std::string::npos) << log;
  const int64_t stopped = std::stoll(log.substr(at + 19));
  EXPECT_GE(stopped, 2);
  EXPECT_TRUE(fs::exists(run_dir + "/checkpoint-" + std::to_string(stopped))) << log;
  EXPECT_FALSE(fs::exists(run_dir + "/final"));

  // Resume to two steps past the stop (the smoke recipe's lr is constant, so
  // the shorter horizon changes no update) and compare with a fresh run.
  const std::string steps = " --set steps=" + std::to_string(stopped + 2);
  r = run(train + steps + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resumed from"), std::string::npos) << r.output;
  r = run(train + steps + " --set run_dir=" + (dir / "fresh"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(opd::testing::read_file_bytes(run_dir + "/final/model.safetensors"),
            opd::testing::read_file_bytes(dir / "fresh/final/model.safetensors"));
  EXPECT_EQ(count_lines(opd::testing::read_file_bytes(run_dir + "/metrics.jsonl")), stopped + 2);
}

// tools/opd_plot.py turns a run's metrics into PNGs of the papers' diagnostics.
TEST(Cli, PlotDrawsTheDiagnosticsARunLogged) {
  ScratchDir dir;
  auto r = run(kBin + "/opd-train --config " + kRecipe + make_models(dir) +
               " --set steps=3 --set objective.name=tropd");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string plot = "'" OPD_PYTHON "' " OPD_SOURCE_DIR "/tools/opd_plot.py ";
  r = run(plot + (dir / "run") + " " + (dir / "run") + " --out " + (dir / "plots"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* png : {"overview.png", "kl_k1.png", "trust_ratio.png", "student_entropy.png", "grad_norm.png"}) {
    const std::string bytes = opd::testing::read_file_bytes(dir / (std::string("plots/") + png));
    EXPECT_EQ(bytes.substr(0, 8), "\x89PNG\r\n\x1a\n") << png;
  }
  EXPECT_FALSE(fs::exists(dir / "plots/prefix_length.png")) << "a diagnostic the run did not log is not drawn";
  std::ofstream(dir / "run/metrics.jsonl", std::ios::app) << "{broken\n";
  r = run(plot + (dir / "run"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("metrics.jsonl:4: not JSON"), std::string::npos) << r.output;
}

TEST(Cli, BadInputIsOneLineNamingWhatAndWhere) {
  ScratchDir dir;
  const std::string sets = make_models(dir);
  auto expect_error = [&](const std::string& extra, const std::string& needle) {
    auto r = run(kBin + "/opd-train --config " + kRecipe + sets + extra);
    EXPECT_EQ(r.exit_code, 1) << extra << "\n" << r.output;
    EXPECT_EQ(count_lines(r.output), 1) << extra << "\n" << r.output;
    EXPECT_NE(r.output.find(needle), std::string::npos) << extra << "\n" << r.output;
    EXPECT_FALSE(fs::exists(dir / "run/final")) << "nothing may be written on bad input";
  };
  expect_error(" --set optim.lrr=1", "optim.lrr: unknown key");
  expect_error(" --set steps=ten", "steps must be an integer");
  expect_error(" --set objective.name=ppo", "objective.name must be one of");
  expect_error(" --set teacher.path=" + (dir / "nowhere"), "teacher.path: no model directory");

  std::ofstream(dir / "bad.jsonl") << "{\"prompt_ids\": [1, 2]}\n{\"prompt_ids\": [1,\n";
  expect_error(" --set data.train=" + (dir / "bad.jsonl"), "bad.jsonl:2: not valid JSON");

  const std::string st = dir / "teacher/model.safetensors";
  const auto bytes = opd::testing::read_file_bytes(st);
  std::ofstream(st, std::ios::binary | std::ios::trunc) << bytes.substr(0, 100);
  expect_error("", "truncated");

  auto missing = run(kBin + "/opd-train --config " + (dir / "nope.yaml"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("nope.yaml"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace opd

namespace opd {
namespace {

// opd-tokenize on the real Qwen3 tokenizer.json (installed by tools/setup.sh).
TEST(Cli, TokenizeEncodesDecodesAndNamesBadLines) {
  const std::string tok = std::string(OPD_SOURCE_DIR) + "/tests/fixtures/tokenizers/qwen3/tokenizer.json";
  const std::string bin = kBin + "/opd-tokenize --tokenizer " + tok;
  auto r = run(bin + " encode --text 'Hello, my dog is cute'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "[9707,11,847,5562,374,18838]\n");
  r = run(bin + " decode --ids '[9707,11,847,5562,374,18838]'");
  EXPECT_EQ(r.output, "\"Hello, my dog is cute\"\n");
  ScratchDir dir;
  std::ofstream(dir / "in.jsonl") << "\"<|im_start|>数学\"\n\n{\"text\": \"two\"}\n";
  r = run(bin + " encode --jsonl < " + (dir / "in.jsonl") + " | " + bin + " decode --jsonl --skip-special");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "\"数学\"\n\"two\"\n");
  std::ofstream(dir / "bad.jsonl") << "\"fine\"\n\n{\"prompt\": \"no text\"}\n";
  r = run(bin + " encode --jsonl < " + (dir / "bad.jsonl"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("stdin:3"), std::string::npos) << r.output;
  r = run(kBin + "/opd-tokenize --tokenizer " + (dir / "nothing") + " encode --text x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no tokenizer at"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace opd

namespace opd {
namespace {

// A char-tokenizer tiny model, as opd-make-tiny --char-tokenizer writes it.
std::string make_char_model(const ScratchDir& dir, const std::string& name, int seed) {
  auto r = run(kBin + "/opd-make-tiny --char-tokenizer --out " + (dir / name) + " --seed " + std::to_string(seed) +
               " --init-std 0.1 --embed-std 0.3");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return dir / name;
}

// What the model at `model_dir` writes greedily for one user message in the
// Qwen3 format, through the library: its ids, and its text in `text`.
std::vector<int64_t> greedy_response(const std::string& model_dir, const std::string& prompt, int64_t max_new_tokens,
                                     std::string* text) {
  auto model = model::load_pretrained(model_dir);
  train::ModelSpec spec;
  spec.path = model_dir;
  spec.chat_template = "qwen3";
  const auto format = train::load_prompt_format(spec, train::DataConfig{}, "chat_template");
  rollout::GenerationConfig g;
  g.sampling.temperature = 0;
  g.max_new_tokens = max_new_tokens;
  g.stop_token_ids = rollout::stop_token_ids(model->config(), format);
  const auto ids = rollout::response_ids(rollout::generate(model, {format.prompt_ids({{"user", prompt}})}, g))[0];
  *text = format.tokenizer->decode(ids, true);
  return ids;
}

// opd-eval end to end with greedy sampling: the answer of problem 1 is what
// the model writes (exact_match), that of problem 2 is not.
TEST(Cli, EvalReportsAvgAndPassAtK) {
  ScratchDir dir;
  const auto model_dir = make_char_model(dir, "m", 5);
  std::string written;
  greedy_response(model_dir, "1+1?", 12, &written);
  ASSERT_FALSE(written.empty());
  std::ofstream(dir / "test.jsonl") << nlohmann::json({{"prompt", "1+1?"}, {"answer", written}, {"domain", "a"}}).dump()
                                    << "\n"
                                    << nlohmann::json({{"prompt", "2+2?"}, {"answer", "no such thing"}, {"domain", "b"}}).dump()
                                    << "\n";
  auto r = run(kBin + "/opd-eval --model " + model_dir + " --chat-template qwen3 --data " + (dir / "test.jsonl") +
               " --k 2 --pass-at 1,2 --temperature 0 --max-new-tokens 12 --verifier exact_match --out " +
               (dir / "r.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto report = nlohmann::json::parse(opd::testing::read_file_bytes(dir / "r.json"));
  EXPECT_EQ(report.at("rows")[0].at("avg@2").get<double>(), 0.5) << report.dump();
  EXPECT_EQ(report.at("rows")[0].at("pass@2").get<double>(), 0.5);
  EXPECT_EQ(report.at("rows")[1].at("domain"), "a");
  EXPECT_EQ(report.at("rows")[1].at("pass@1").get<double>(), 1.0);
  EXPECT_EQ(report.at("problems")[1].at("correct"), 0);
  // The report says what made it: the model, the sampling settings, each response and its verdict.
  EXPECT_EQ(report.at("model").at("path"), model_dir);
  EXPECT_EQ(report.at("model").at("chat_template"), "qwen3");
  EXPECT_EQ(report.at("sampling").at("temperature").get<double>(), 0.0);
  EXPECT_EQ(report.at("sampling").at("max_new_tokens"), 12);
  EXPECT_EQ(report.at("verifier"), "exact_match");
  ASSERT_EQ(report.at("problems")[0].at("responses").size(), 2u);
  EXPECT_EQ(report.at("problems")[0].at("responses")[0].at("response"), written);
  EXPECT_EQ(report.at("problems")[0].at("responses")[0].at("correct"), true);
  EXPECT_NE(r.output.find("pass@2"), std::string::npos) << r.output;
  // Progress in a log (not a terminal) is whole lines: no carriage returns.
  EXPECT_EQ(r.output.find('\r'), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2/2 problems\n"), std::string::npos) << r.output;
  // Answers generated elsewhere are scored without a model.
  std::ofstream(dir / "answers.jsonl") << nlohmann::json({{"index", 1}, {"response", "no such thing"}}).dump() << "\n"
                                       << nlohmann::json({{"index", 0}, {"response", "wrong"}}).dump() << "\n"
                                       << nlohmann::json({{"index", 0}, {"response", written}}).dump() << "\n"
                                       << nlohmann::json({{"index", 1}, {"response", "also wrong"}}).dump() << "\n";
  r = run(kBin + "/opd-eval --answers " + (dir / "answers.jsonl") + " --data " + (dir / "test.jsonl") +
          " --pass-at 1,2 --verifier exact_match --out " + (dir / "a.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  report = nlohmann::json::parse(opd::testing::read_file_bytes(dir / "a.json"));
  EXPECT_EQ(report.at("k"), 2);
  EXPECT_EQ(report.at("rows")[0].at("avg@2").get<double>(), 0.5) << report.dump();
  EXPECT_EQ(report.at("problems")[0].at("responses")[1].at("correct"), true);
  EXPECT_EQ(report.at("answers"), dir / "answers.jsonl");
  std::ofstream(dir / "uneven.jsonl") << nlohmann::json({{"index", 0}, {"response", "a"}}).dump() << "\n"
                                      << nlohmann::json({{"index", 1}, {"response", "b"}}).dump() << "\n"
                                      << nlohmann::json({{"index", 1}, {"response", "c"}}).dump() << "\n";
  r = run(kBin + "/opd-eval --answers " + (dir / "uneven.jsonl") + " --data " + (dir / "test.jsonl"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("problem 1 (" + (dir / "test.jsonl") + ":2) has 2 answers, problem 0 has 1"),
            std::string::npos)
      << r.output;
  std::ofstream(dir / "stray.jsonl") << "{\"index\": 7, \"response\": \"a\"}\n";
  r = run(kBin + "/opd-eval --answers " + (dir / "stray.jsonl") + " --data " + (dir / "test.jsonl"));
  EXPECT_NE(r.output.find("stray.jsonl:1: index 7 is not a problem of"), std::string::npos) << r.output;
  // A problem without an answer is named.
  std::ofstream(dir / "bad.jsonl") << "{\"prompt\": \"1+1?\", \"answer\": \"2\"}\n{\"prompt\": \"x\"}\n";
  r = run(kBin + "/opd-eval --model " + model_dir + " --data " + (dir / "bad.jsonl"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("bad.jsonl:2: no 'answer'"), std::string::npos) << r.output;
}

// opd-prepare tokenizes a recipe's text prompts into an .h5 that opd-train reads.
TEST(Cli, PrepareWritesAStoreTheTrainerReads) {
  ScratchDir dir;
  const auto student = make_char_model(dir, "student", 2);
  const auto teacher = make_char_model(dir, "teacher", 1);
  std::ofstream(dir / "raw.jsonl") << "{\"prompt\": \"what is 2+3?\", \"answer\": \"5\"}\n"
                                      "{\"prompt\": \"what is 4+4?\", \"solution\": \"8\"}\n";
  const std::string recipe = " --set student.path=" + student + " --set teacher.path=" + teacher +
                             " --set student.chat_template=qwen3 --set run_dir=" + (dir / "run");
  auto r = run(kBin + "/opd-prepare --config " + kRecipe + recipe + " --set data.train=" + (dir / "raw.jsonl") +
               " --out " + (dir / "train.h5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 prompts"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" bytes read\n"), std::string::npos) << "progress while it reads: " << r.output;
  EXPECT_NE(r.output.find("2 read differently by the teacher"), std::string::npos) << r.output;
  auto stored = data::PromptDataset::from_file(dir / "train.h5");
  ASSERT_EQ(stored.size(), 2);
  EXPECT_EQ(stored[0].answer, "5");
  EXPECT_FALSE(stored[1].response_ids.empty());
  r = run(kBin + "/opd-train --config " + kRecipe + recipe + " --set data.train=" + (dir / "train.h5") +
          " --set steps=2 --set data.prompts_per_step=2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // A recipe that renders prompts otherwise than the store was made with is refused, saying how.
  r = run(kBin + "/opd-train --config " + kRecipe + recipe + " --set data.train=" + (dir / "train.h5") +
          " --set steps=1 --set data.enable_thinking=false");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("train.h5: prepared for a student that reads prompts with chat_template 'qwen3', "
                          "system_prompt '', enable_thinking true, but this recipe's student reads them with "
                          "chat_template 'qwen3', system_prompt '', enable_thinking false"),
            std::string::npos)
      << r.output;
  r = run(kBin + "/opd-train --config " + kRecipe + recipe + " --set data.train=" + (dir / "train.h5") +
          " --set steps=1 --set 'data.system_prompt=Be brief.'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("system_prompt 'Be brief.'"), std::string::npos) << r.output;
}

// Reads JSONL output into one json per line.
std::vector<nlohmann::json> read_jsonl(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::stringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

// opd-generate writes what the library generates, the same for any --batch,
// and ends samples at stop strings.
TEST(Cli, GenerateWritesSamplesAsJsonl) {
  ScratchDir dir;
  const auto model_dir = make_char_model(dir, "m", 5);
  std::string greedy_text;
  const auto greedy = greedy_response(model_dir, "1+1?", 10, &greedy_text);
  ASSERT_GE(greedy_text.size(), 3u);

  const std::string base = kBin + "/opd-generate --model " + model_dir + " --chat-template qwen3 ";
  auto r = run(base + "--prompt '1+1?' --n 2 --temperature 0 --max-new-tokens 10 --out " + (dir / "g.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rows = read_jsonl(opd::testing::read_file_bytes(dir / "g.jsonl"));
  ASSERT_EQ(rows.size(), 2u);
  for (int s = 0; s < 2; ++s) {
    EXPECT_EQ(rows[s].at("sample"), s);
    EXPECT_EQ(rows[s].at("response_ids").get<std::vector<int64_t>>(), greedy);
    EXPECT_EQ(rows[s].at("response"), greedy_text);
    EXPECT_EQ(rows[s].at("finish_reason"), greedy.size() < 10 ? "stop" : "length");
    EXPECT_NE(rows[s].at("prompt").get<std::string>().find("<|im_start|>user\n1+1?"), std::string::npos);
  }

  // A stop string ends the sample right after it.
  const std::string stop = greedy_text.substr(1, 2);
  r = run(base + "--prompt '1+1?' --temperature 0 --max-new-tokens 10 --stop '" + stop + "' --out " +
          (dir / "s.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  rows = read_jsonl(opd::testing::read_file_bytes(dir / "s.jsonl"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("response"), greedy_text.substr(0, greedy_text.find(stop) + stop.size()));
  EXPECT_EQ(rows[0].at("finish_reason"), "stop");

  // Sampled, from a file: the same samples whatever --batch, log-probs per token.
  std::ofstream(dir / "p.jsonl") << "{\"prompt\": \"hello\", \"domain\": \"a\"}\n{\"prompt_ids\": [3, 4, 5]}\n";
  const std::string sampled =
      base + "--prompts " + (dir / "p.jsonl") + " --n 3 --seed 9 --max-new-tokens 6 --logprobs ";
  ASSERT_EQ(run(sampled + "--batch 2 --out " + (dir / "b2.jsonl")).exit_code, 0);
  ASSERT_EQ(run(sampled + "--batch 6 --out " + (dir / "b6.jsonl")).exit_code, 0);
  rows = read_jsonl(opd::testing::read_file_bytes(dir / "b2.jsonl"));
  auto b6 = read_jsonl(opd::testing::read_file_bytes(dir / "b6.jsonl"));
  ASSERT_EQ(rows.size(), 6u);
  ASSERT_EQ(b6.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    // Same tokens; log-probs to rounding (other padding, other reduction order).
    const auto a = rows[i].at("logprobs").get<std::vector<double>>();
    const auto b = b6[i].at("logprobs").get<std::vector<double>>();
    ASSERT_EQ(a.size(), b.size());
    for (size_t t = 0; t < a.size(); ++t) EXPECT_NEAR(a[t], b[t], 1e-5);
    auto x = rows[i], y = b6[i];
    x.erase("logprobs");
    y.erase("logprobs");
    EXPECT_EQ(x, y) << "sample " << i;
  }
  EXPECT_EQ(rows[0].at("domain"), "a");
  EXPECT_EQ(rows[3].at("line"), 2);
  EXPECT_EQ(rows[3].at("prompt_ids").get<std::vector<int64_t>>(), (std::vector<int64_t>{3, 4, 5}));
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("logprobs").size(), row.at("response_ids").size());
    for (const auto& lp : row.at("logprobs")) EXPECT_LE(lp.get<double>(), 0.0);
  }
  EXPECT_NE(rows[0].at("response_ids"), rows[1].at("response_ids")) << "samples of one prompt should differ";

  // Bad input: one line naming it, and no output file left behind.
  std::ofstream(dir / "bad.jsonl") << "{\"prompt\": \"ok\"}\n{\"text\": \"no prompt\"}\n";
  r = run(base + "--prompts " + (dir / "bad.jsonl") + " --out " + (dir / "bad_out.jsonl"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("bad.jsonl:2"), std::string::npos) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_FALSE(fs::exists(dir / "bad_out.jsonl"));
  EXPECT_FALSE(fs::exists(dir / "bad_out.jsonl.tmp"));
  r = run(kBin + "/opd-generate --model " + model_dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--prompts FILE or --prompt TEXT"), std::string::npos) << r.output;

  // A failure midway (the third prompt leaves no room for --max-new-tokens in
  // the model's 4096 positions) keeps the finished samples as --out.partial.
  std::string long_ids = "[3";
  for (int i = 1; i < 4090; ++i) long_ids += ", 4";
  std::ofstream(dir / "late.jsonl") << "{\"prompt\": \"hello\"}\n{\"prompt_ids\": [3, 4, 5]}\n{\"prompt_ids\": "
                                    << long_ids << "]}\n";
  r = run(base + "--prompts " + (dir / "late.jsonl") + " --batch 1 --max-new-tokens 10 --out " + (dir / "late_out.jsonl"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("the 2 samples finished before it are in " + (dir / "late_out.jsonl.partial")),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir / "late_out.jsonl"));
  EXPECT_EQ(read_jsonl(opd::testing::read_file_bytes(dir / "late_out.jsonl.partial")).size(), 2u);
}

// A model of Qwen3's vocabulary (151936 rows) with Qwen3's real tokenizer
// (151669 ids), made to favour the padding ids 151669-151935 as an untrained
// model may.
std::string make_padded_qwen3_model(const ScratchDir& dir) {
  const std::string out = dir / "padded";
  const auto r = run(kBin + "/opd-make-tiny --out " + out + " --vocab-size 151936 --hidden-size 16 --intermediate-size 32 " +
                     "--layers 1 --heads 2 --kv-heads 1 --head-dim 8 --untied --init-std 0.5 --eos-id 151645 --seed 3");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto m = model::load_pretrained(out);
  opd::testing::favour_ids_from(m, 151669);
  model::save_pretrained(m, out);
  const fs::path tokenizer = fs::path(OPD_SOURCE_DIR) / "tests/fixtures/tokenizers/qwen3";
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(tokenizer / f, fs::path(out) / f);
  return out;
}

// opd-generate and opd-eval draw only ids the tokenizer has (they died
// decoding a padding id, with nothing written).
TEST(Cli, GenerateAndEvalNeverDrawIdsPastTheTokenizer) {
  ScratchDir dir;
  const auto model_dir = make_padded_qwen3_model(dir);
  auto r = run(kBin + "/opd-generate --model " + model_dir + " --chat-template qwen3 --prompt 'hi' --n 4 --seed 1 " +
               "--max-new-tokens 8 --out " + (dir / "g.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = read_jsonl(opd::testing::read_file_bytes(dir / "g.jsonl"));
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& row : rows) {
    const auto ids = row.at("response_ids").get<std::vector<int64_t>>();
    EXPECT_FALSE(ids.empty());
    for (int64_t id : ids) EXPECT_LT(id, 151669) << row.dump();
  }
  std::ofstream(dir / "test.jsonl") << "{\"prompt\": \"1+1?\", \"answer\": \"2\"}\n";
  r = run(kBin + "/opd-eval --model " + model_dir + " --chat-template qwen3 --data " + (dir / "test.jsonl") +
          " --k 4 --max-new-tokens 8 --verifier exact_match --out " + (dir / "r.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "r.json"));
}

// A model that ships a chat template is read in it unless the recipe (or
// --chat-template) names another or none; a template outside the Jinja
// subset is refused, naming its file and line.
TEST(Cli, TheModelsOwnChatTemplateIsTheDefault) {
  ScratchDir dir;
  auto r = run(kBin + "/opd-make-tiny --char-tokenizer --out " + (dir / "m"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ofstream(dir / "m/tokenizer_config.json")
      << nlohmann::json({{"chat_template", "{%- for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content | trim }}"
                                           "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>"
                                           "assistant\n{% endif %}"},
                         {"eos_token", "<|im_end|>"}})
             .dump();
  const std::string generate = kBin + "/opd-generate --model " + (dir / "m") + " --prompt ' hi ' --max-new-tokens 2 ";
  r = run(generate + "--out " + (dir / "own.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_jsonl(opd::testing::read_file_bytes(dir / "own.jsonl"))[0].at("prompt"),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  r = run(generate + "--chat-template none --out " + (dir / "plain.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_jsonl(opd::testing::read_file_bytes(dir / "plain.jsonl"))[0].at("prompt"), " hi ");
  std::ofstream(dir / "m/tokenizer_config.json") << nlohmann::json({{"chat_template", "{{ messages }}\n{% do x %}"}}).dump();
  r = run(generate);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("tokenizer_config.json chat_template:2: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("do"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace opd
