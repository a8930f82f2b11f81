// The paper harness: suite files, row recipes, the results table, and
// opd-bench end to end on configs/paper/ci_smoke.yaml (resumable).
#include "opd/eval/verifier.h"
#include "opd/paper/cast_builder.h"
#include "opd/paper/results_table.h"
#include "opd/paper/suite.h"
#include "opd/tokenizer/hf_tokenizer.h"
#include "opd/train/stop_signal.h"
#include "support/test_support.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace opd::paper {
namespace {

namespace fs = std::filesystem;
using opd::testing::ScratchDir;

const std::string kSource = OPD_SOURCE_DIR;
const std::string kSmoke = kSource + "/configs/paper/ci_smoke.yaml";

std::string write(const ScratchDir& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir / name) << text;
  return dir / name;
}

const char* kSuite = R"yaml(name: t
out_dir: OUT
tasks: {domains: [arith, reverse], train: 40, test: 4}
cast:
  - {name: teacher, init: {layers: 1, hidden: 32, intermediate: 64, heads: 2, kv_heads: 1, head_dim: 16}}
  - {name: student, from: teacher, sft: {steps: 2}}
recipe:
  steps: 5
  student: {path: "cast:student", chat_template: chatml}
  teacher: {path: "cast:teacher", chat_template: chatml}
  optim: {lr: 1.0e-3, warmup_steps: 2}
seeds: [3, 4]
sweep: objective.lambda
rows:
  - {name: opd, objective: {name: opd}}
  - {name: "G-OPD (λ=0.5)", objective: {name: gopd, lambda: 0.5}, optim: {lr: 2.0e-3}}
  - {name: multi, teachers: {arith: {path: "cast:teacher"}}}
)yaml";

TEST(Suite, RowsAreTheRecipeWithTheirOverlay) {
  ScratchDir dir;
  std::string text = kSuite;
  text.replace(text.find("OUT"), 3, dir / "out");
  const auto suite = load_suite(write(dir, "s.yaml", text));
  ASSERT_EQ(suite.rows.size(), 3u);
  ASSERT_EQ(suite.eval.splits.size(), 1u);
  EXPECT_EQ(suite.eval.splits[0].second, dir / "out/tasks/test.jsonl") << "synthetic tasks evaluate on test";

  const auto gopd = row_config(suite, suite.rows[1], 4);
  EXPECT_EQ(gopd.objective.kind, ObjectiveKind::kGopd);
  EXPECT_EQ(gopd.objective.lambda, 0.5);
  EXPECT_EQ(gopd.optim.lr, 2e-3) << "the row's value wins";
  EXPECT_EQ(gopd.optim.warmup_steps, 2) << "the recipe's other keys stay";
  EXPECT_EQ(gopd.steps, 5);
  EXPECT_EQ(gopd.seed, 4u);
  EXPECT_EQ(gopd.student.path, dir / "out/cast/student");
  EXPECT_EQ(gopd.student.chat_template, "chatml");
  EXPECT_EQ(gopd.data.train_path, dir / "out/tasks/train.jsonl") << "data.train defaults to the tasks";
  EXPECT_EQ(gopd.run_dir, dir / "out/rows/g-opd_____0.5_/seed4");
  EXPECT_EQ(resolved_value(gopd, "objective.lambda"), "0.5");
  EXPECT_EQ(resolved_value(gopd, "objective.nothing"), "");

  const auto multi = row_config(suite, suite.rows[2], 3);
  ASSERT_EQ(multi.teachers.count("arith"), 1u);
  EXPECT_EQ(multi.teachers.at("arith").path, dir / "out/cast/teacher");
  EXPECT_EQ(multi.objective.kind, ObjectiveKind::kOpd) << "the trainer's default objective";

  const auto fewer = load_suite(dir / "s.yaml", {"seeds=[9]", "recipe.steps=2"});
  EXPECT_EQ(fewer.seeds, std::vector<uint64_t>{9});
  EXPECT_EQ(row_config(fewer, fewer.rows[0], 9).steps, 2);
}

TEST(Suite, BadSuitesAreOneLineNamingWhere) {
  ScratchDir dir;
  auto expect_bad = [&](const std::string& from, const std::string& to, const std::vector<std::string>& parts) {
    std::string text = kSuite;
    text.replace(text.find("OUT"), 3, dir / "out");
    ASSERT_NE(text.find(from), std::string::npos) << from;
    text.replace(text.find(from), from.size(), to);
    const auto path = write(dir, "bad.yaml", text);
    auto message = opd::testing::error_message([&] { load_suite(path); });
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    for (const auto& p : parts) EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' not in: " << message;
  };
  expect_bad("sweep:", "sweeep:", {"bad.yaml:13:", "sweeep: unknown key"});
  expect_bad("lambda: 0.5", "lamda: 0.5", {"bad.yaml:16: row 'G-OPD (λ=0.5)' seed 3: objective.lamda: unknown key"});
  expect_bad("from: teacher", "from: nobody", {"bad.yaml:6:", "cast[1].from: 'nobody' is not an earlier cast member"});
  expect_bad("cast:teacher\"}}}", "cast:tutor\"}}}", {"'cast:tutor' names no cast member"});
  expect_bad("[arith, reverse]", "[arith, poems]", {"tasks.domains: unknown domain 'poems'"});
  expect_bad("kv_heads: 1", "kv_heads: 3", {"heads (2) must be a multiple of kv_heads (3)"});
  expect_bad("- {name: multi", "- {name: OPD", {"'OPD' has the same directory name as row 'opd'"});
  auto message = opd::testing::error_message([&] { load_suite(dir / "missing.yaml"); });
  EXPECT_NE(message.find("missing.yaml: cannot read"), std::string::npos) << message;
}

// Every suite we ship parses, and each of its rows makes a valid recipe.
TEST(Suite, EveryShippedSuiteLoads) {
  int count = 0;
  for (const auto& entry : fs::recursive_directory_iterator(kSource + "/configs/paper")) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    Suite suite;
    EXPECT_NO_THROW(suite = load_suite(entry.path().string())) << opd::testing::error_message([&] {
      load_suite(entry.path().string());
    });
    EXPECT_FALSE(suite.rows.empty());
    for (const auto& row : suite.rows) {
      for (auto seed : suite.seeds) EXPECT_NO_THROW(row_config(suite, row, seed)) << row.name;
    }
    ++count;
  }
  EXPECT_GE(count, 8);
}

// A shared cast is reused only by suites that define it the same way.
TEST(Suite, CastIsReusedOnlyWhenItsDefinitionMatches) {
  ScratchDir dir;
  std::string text = kSuite;
  text.replace(text.find("OUT"), 3, dir / "out");
  const auto suite = load_suite(write(dir, "s.yaml", text));
  EXPECT_EQ(build_cast(suite).built, 2);
  EXPECT_TRUE(fs::exists(dir / "out/tasks/train.arith.jsonl"));
  EXPECT_TRUE(fs::exists(dir / "out/cast/student/model.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "out/cast/teacher.init")) << "no leftovers";
  EXPECT_EQ(build_cast(suite).built, 0);
  text.replace(text.find("head_dim: 16}"), 13, "head_dim: 16, seed: 5}");
  const auto changed = load_suite(write(dir, "s2.yaml", text));
  opd::testing::expect_error([&] { build_cast(changed); },
                             {"cast member 'teacher' in " + (dir / "out/cast/teacher"), "different definition"});
  text.replace(text.find("train: 40"), 9, "train: 42");
  const auto other_tasks = load_suite(write(dir, "s3.yaml", text));
  opd::testing::expect_error([&] { write_tasks(other_tasks); }, {"the synthetic tasks in", "different definition"});
}

// sft.refinement trains a member on the problems and on them as refinement
// prompts; the template is part of its definition.
TEST(Suite, ARefinerMemberTrainsOnRefinementExamples) {
  ScratchDir dir;
  std::string text = kSuite;
  text.replace(text.find("OUT"), 3, dir / "out");
  text.replace(text.find("sft: {steps: 2}"), 15, "sft: {steps: 2, refinement: synthetic}");
  const auto suite = load_suite(write(dir, "s.yaml", text));
  EXPECT_EQ(suite.cast[1].sft.refinement, "synthetic");
  EXPECT_EQ(build_cast(suite).built, 2);
  const auto lines = opd::testing::read_file_bytes(dir / "out/cast/student.refine.jsonl");
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 80) << "40 problems, each also as a refinement prompt";
  EXPECT_NE(lines.find("attempt:"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "out/cast/student/model.safetensors"));
  EXPECT_EQ(build_cast(suite).built, 0);

  std::string bad = kSuite;
  bad.replace(bad.find("OUT"), 3, dir / "bad");
  bad.replace(bad.find("sft: {steps: 2}"), 15, "sft: {steps: 2, refinement: no_such_template}");
  opd::testing::expect_error([&] { load_suite(write(dir, "bad.yaml", bad)); },
                             {"bad.yaml", "cast[1].sft.refinement", "no_such_template"});
}

// bpe_vocab gives the cast a BPE trained on the tasks: every member reads
// the same tokenizer.json, the models' vocabulary and EOS follow it, the
// solutions take fewer tokens than characters, and a cast built with the
// character tokenizer is not reused for it.
TEST(Suite, ABpeCastSharesOneTokenizerTrainedOnTheTasks) {
  ScratchDir dir;
  std::string text = kSuite;
  text.replace(text.find("OUT"), 3, dir / "out");
  ASSERT_EQ(build_cast(load_suite(write(dir, "chars.yaml", text))).built, 2);
  text.replace(text.find("cast:"), 0, "bpe_vocab: 128\n");
  const auto suite = load_suite(write(dir, "s.yaml", text));
  EXPECT_EQ(suite.bpe_vocab, 128);
  opd::testing::expect_error([&] { build_cast(suite); }, {"cast member 'teacher'", "different definition"});
  fs::remove_all(dir / "out/cast");
  ASSERT_EQ(build_cast(suite).built, 2);
  const auto config = nlohmann::json::parse(opd::testing::read_file_bytes(dir / "out/cast/student/config.json"));
  EXPECT_EQ(config.at("vocab_size"), 128);
  EXPECT_EQ(config.at("eos_token_id"), 125);
  const auto json = opd::testing::read_file_bytes(dir / "out/cast/teacher/tokenizer.json");
  EXPECT_EQ(json, opd::testing::read_file_bytes(dir / "out/cast/student/tokenizer.json"));
  auto tok = tokenizer::HfTokenizer::from_file(dir / "out/cast/student/tokenizer.json");
  EXPECT_EQ(tok->vocab_size(), 128);
  EXPECT_EQ(tok->token_to_id("<|endoftext|>"), 125);
  const auto tasks = opd::testing::read_file_bytes(dir / "out/tasks/train.jsonl");
  const std::string solution = nlohmann::json::parse(tasks.substr(0, tasks.find('\n'))).at("solution");
  EXPECT_LT(tok->encode(solution).size(), solution.size());
  EXPECT_EQ(tok->decode(tok->encode(solution)), solution);

  for (const auto& [value, message] : std::vector<std::pair<std::string, std::string>>{
           {"bpe_vocab: 64\n", "bpe_vocab must be above the 64 ids of the character tokenizer"},
           {"bpe_vocab: 100000\n", "bad.yaml: bpe_vocab: train_bpe: after"}}) {
    std::string bad = kSuite;
    bad.replace(bad.find("OUT"), 3, dir / "bad");
    bad.replace(bad.find("cast:"), 0, value);
    opd::testing::expect_error([&] { build_cast(load_suite(write(dir, "bad.yaml", bad))); }, {message});
  }
}

// rft samples from the model, keeps the right responses and fine-tunes on
// them, round after round; the member records each round. A teacher that
// memorised eight problems gets some right; an untrained one gets none,
// which is an error naming the member and round.
TEST(Suite, AnRftMemberFineTunesOnItsOwnRightSamples) {
  ScratchDir dir;
  const std::string text = R"yaml(name: t
out_dir: OUT
tasks: {domains: [reverse], train: 8, test: 2}
cast:
  - {name: teacher, init: {layers: 1, hidden: 32, intermediate: 64, heads: 2, kv_heads: 1, head_dim: 16},
     sft: {steps: 150, lr: 1.0e-2, batch: 8}}
  - {name: student, from: teacher, rft: {rounds: 2, prompts: 8, samples: 4, steps: 3, batch: 8}}
recipe:
  student: {path: "cast:student", chat_template: chatml}
  teacher: {path: "cast:teacher", chat_template: chatml}
eval: {max_new_tokens: 24}
rows:
  - {name: opd, objective: {name: opd}}
)yaml";
  auto suite_text = [&](const std::string& out) {
    std::string t = text;
    t.replace(t.find("OUT"), 3, dir / out);
    return t;
  };
  const auto suite = load_suite(write(dir, "s.yaml", suite_text("out")));
  EXPECT_EQ(suite.cast[1].rft.rounds, 2);
  EXPECT_EQ(suite.cast[1].rft.sft.steps, 3);
  ASSERT_EQ(build_cast(suite).built, 2);
  const auto rounds = nlohmann::json::parse(opd::testing::read_file_bytes(dir / "out/cast/student/rft_rounds.json"));
  ASSERT_EQ(rounds.size(), 2u);
  const auto verifier = eval::make_verifier("math_boxed");
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(rounds[round].at("sampled"), 32);
    EXPECT_GE(rounds[round].at("kept").get<int>(), 1) << rounds.dump();
    std::ifstream kept(dir / ("out/cast/student.rft-" + std::to_string(round) + ".jsonl"));
    int lines = 0;
    for (std::string line; std::getline(kept, line); ++lines) {
      const auto j = nlohmann::json::parse(line);
      EXPECT_TRUE(verifier->correct(j.at("solution").get<std::string>(), j.at("answer").get<std::string>())) << line;
    }
    EXPECT_EQ(lines, rounds[round].at("kept").get<int>());
    EXPECT_FALSE(fs::exists(dir / ("out/cast/student.rft-" + std::to_string(round)))) << "no leftover rounds";
  }
  EXPECT_TRUE(fs::exists(dir / "out/cast/student/model.safetensors"));
  EXPECT_EQ(build_cast(suite).built, 0);

  std::string untrained = suite_text("untrained");
  untrained.replace(untrained.find("\n     sft: {steps: 150, lr: 1.0e-2, batch: 8}"), 45, "");
  opd::testing::expect_error([&] { build_cast(load_suite(write(dir, "u.yaml", untrained))); },
                             {"cast member 'student' (rft round 0)", "none of the 32 sampled responses was right"});
  std::string both = suite_text("both");
  both.replace(both.find("rft: {rounds"), 0, "sft: {steps: 1}, ");
  opd::testing::expect_error([&] { load_suite(write(dir, "b.yaml", both)); }, {"cast[1]: give sft or rft, not both"});
}

// A stop (SIGTERM) during a member's sft leaves it unbuilt, never "built"
// with partial weights; the next build resumes the sft from its checkpoint
// and ends with the weights of a build that was never stopped.
TEST(Suite, ACastMemberStoppedDuringItsSftIsNotBuiltAndResumes) {
  ScratchDir dir;
  auto suite_in = [&](const std::string& out) {
    std::string text = kSuite;
    text.replace(text.find("OUT"), 3, dir / out);
    return load_suite(write(dir, out + ".yaml", text));
  };
  const auto suite = suite_in("out");
  train::request_stop();
  const auto stopped = build_cast(suite);
  train::clear_stop_request();
  EXPECT_TRUE(stopped.stopped);
  EXPECT_EQ(stopped.built, 1) << "the teacher has no sft stage";
  EXPECT_FALSE(fs::exists(dir / "out/cast/student"));
  EXPECT_TRUE(fs::exists(dir / "out/cast/student.sft/checkpoint-1/trainer_state.json"));

  const auto resumed = build_cast(suite);
  EXPECT_FALSE(resumed.stopped);
  EXPECT_EQ(resumed.built, 1);
  ASSERT_EQ(build_cast(suite_in("whole")).built, 2);
  EXPECT_EQ(opd::testing::read_file_bytes(dir / "out/cast/student/model.safetensors"),
            opd::testing::read_file_bytes(dir / "whole/cast/student/model.safetensors"));
}

RowResult result(const std::string& row, uint64_t seed, double all, double arith, bool baseline = false) {
  RowResult r;
  r.row = row;
  r.seed = seed;
  r.baseline = baseline;
  r.train_seconds = 10.0 * double(seed + 1);
  eval::EvalReport report;
  report.k = 4;
  report.rows.push_back({"all", 10, all, {{1, all}, {4, all + 0.1}}});
  report.rows.push_back({"arith", 5, arith, {{1, arith}, {4, arith + 0.1}}});
  r.splits["test"] = report;
  if (!baseline) r.last_step["kl_k1"] = 0.5 * double(seed);
  return r;
}

TEST(ResultsTable, MeanAndSampleStdOverSeeds) {
  const auto s = mean_std({0.2, 0.4, 0.6});
  EXPECT_DOUBLE_EQ(s.mean, 0.4);
  EXPECT_NEAR(s.std, 0.2, 1e-12);  // sqrt(((0.2)^2 + 0 + (0.2)^2) / 2)
  EXPECT_EQ(mean_std({0.7}).std, 0.0);
  EXPECT_EQ(mean_std({}).n, 0);

  Suite suite;
  suite.title = "T";
  suite.rows = {{"opd", "{}", 1}, {"never run", "{}", 2}};
  suite.baselines = {{"student", "x"}};
  suite.eval.splits = {{"test", "t.jsonl"}};
  suite.eval.k = 4;
  const std::vector<RowResult> results = {result("opd", 0, 0.5, 0.2), result("opd", 1, 0.7, 0.4),
                                          result("student", 0, 0.1, 0.0, true), result("gone", 0, 1.0, 1.0)};
  // Round trip through result.json first: the table reads the files.
  std::vector<RowResult> read;
  for (const auto& r : results) read.push_back(parse_row_result(row_result_json(r), "r.json"));
  const auto table = make_results_table(suite, read);
  ASSERT_EQ(table.lines.size(), 2u) << "rows without results and results of unlisted rows are left out";
  EXPECT_EQ(table.lines[0].row, "student");
  EXPECT_TRUE(table.lines[0].baseline);
  std::vector<std::string> headers;
  for (const auto& c : table.columns) headers.push_back(c.header());
  EXPECT_EQ(headers, (std::vector<std::string>{"test/all avg@4", "test/all pass@4", "test/arith avg@4",
                                               "test/arith pass@4", "kl_k1 (last step)"}));
  const auto& opd_line = table.lines[1];
  EXPECT_EQ(opd_line.seeds, 2);
  EXPECT_NEAR(opd_line.cells[0].mean, 0.6, 1e-12);
  EXPECT_NEAR(opd_line.cells[0].std, std::sqrt(0.02), 1e-12);
  EXPECT_NEAR(opd_line.cells[3].mean, 0.4, 1e-12);
  EXPECT_NEAR(opd_line.cells[4].mean, 0.25, 1e-12);
  EXPECT_NEAR(opd_line.train_seconds.mean, 15.0, 1e-12);
  EXPECT_EQ(table.lines[0].cells[4].n, 0) << "a baseline has no training metrics";

  const auto md = results_markdown(table, suite);
  EXPECT_NE(md.find("| opd | 0.600 ± 0.141 | 0.700 ± 0.141 | 0.300 ± 0.141 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| *student* (as is) | 0.100 |"), std::string::npos) << md;
  const auto csv = results_csv(table);
  EXPECT_NE(csv.find("\"test/all avg@4 mean\",\"test/all avg@4 std\""), std::string::npos) << csv;
  EXPECT_NE(csv.find("\"opd\",trained,2,\"\",15.0,0.600000,0.141421"), std::string::npos) << csv;
  opd::testing::expect_error([] { parse_row_result("{\"row\": 1}", "x/result.json"); }, {"x/result.json: not a row result"});
}

// The CI suite end to end, as a user runs it: the cast, every row over two
// seeds, the table; a rerun trains nothing; a lost result reruns just that row.
TEST(OpdBench, RunsTheSmokeSuiteAndResumes) {
  ScratchDir dir;
  const std::string bench = std::string(OPD_BIN_DIR) + "/opd-bench";
  const std::string out = dir / "out";
  const std::string args = " run " + kSmoke + " --out " + out;
  auto r = opd::testing::run_command(bench + args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("2 cast models built, 2 baselines evaluated, 6 (row, seed) runs trained, 0 already done"),
            std::string::npos) << r.output;
  const auto suite = load_suite(kSmoke, {"out_dir=" + out});
  for (const auto& row : suite.rows) {
    for (auto seed : suite.seeds) {
      const auto path = row_dir(suite, row.name, seed) + "/result.json";
      ASSERT_TRUE(fs::exists(path)) << path;
      const auto res = parse_row_result(opd::testing::read_file_bytes(path), path);
      EXPECT_EQ(res.row, row.name);
      EXPECT_EQ(res.splits.at("test").rows.front().problems, 16);
      EXPECT_EQ(res.splits.at("test").rows.size(), 3u) << "all, arith, reverse";
      EXPECT_TRUE(res.last_step.count("kl_k1"));
    }
  }
  const auto md = opd::testing::read_file_bytes(out + "/results.md");
  for (const auto* line : {"| *student* (as is) |", "| *teacher* (as is) |", "| opd |", "| fkl (top-k) |", "| tropd |"}) {
    EXPECT_NE(md.find(line), std::string::npos) << line << " missing from\n" << md;
  }
  // The claims' section: the gate line and a verdict per claim, whatever they are at this budget.
  EXPECT_NE(md.find("## Claims"), std::string::npos) << md;
  EXPECT_NE(md.find("Gate: 'opd' must train before any claim counts"), std::string::npos) << md;
  EXPECT_NE(md.find("Premise 'the teacher's top-8 leaves mass out': fkl (top-k)'s topk_mass (last step) is "),
            std::string::npos) << md;
  // The synthetic tasks' solutions are known, so the trainer marks valid tokens and TrOPD counts its valid outliers.
  const auto valid = md.find("Premise 'a quarter of the outliers are valid tokens': tropd's outlier_valid_fraction");
  ASSERT_NE(valid, std::string::npos) << md;
  const std::string premise = md.substr(valid, md.find('\n', valid) - valid);
  EXPECT_NE(premise.find("over 2 seeds"), std::string::npos) << premise;
  EXPECT_EQ(premise.find("unmeasured"), std::string::npos) << premise;
  for (const auto* claim : {"| TrOPD above OPD (TrOPD Table 1) | tropd | opd | test/all avg@2 | ",
                            "| OPD above top-k FKL (TrOPD Table 1) | opd | fkl (top-k) | test/all avg@2 | "}) {
    const auto at = md.find(claim);
    ASSERT_NE(at, std::string::npos) << claim << " missing from\n" << md;
    const std::string line = md.substr(at, md.find('\n', at) - at);
    EXPECT_NE(line.find("| 2 |"), std::string::npos) << "paired over both seeds: " << line;
    const bool known = line.find("| reproduced |") != std::string::npos || line.find("| reversed |") != std::string::npos ||
                       line.find("| not distinguishable at this budget |") != std::string::npos ||
                       line.find("| not tested |") != std::string::npos;
    EXPECT_TRUE(known) << line;
  }
  const auto csv = opd::testing::read_file_bytes(out + "/results.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 6) << csv;
  EXPECT_TRUE(fs::exists(out + "/summary.json"));

  const auto opd0 = row_dir(suite, "opd", 0) + "/result.json";
  const auto before = fs::last_write_time(opd0);
  r = opd::testing::run_command(bench + args + " --no-plots");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("0 cast models built, 0 baselines evaluated, 0 (row, seed) runs trained, 8 already done"),
            std::string::npos) << r.output;
  EXPECT_EQ(fs::last_write_time(opd0), before) << "a finished row is not rerun";

  fs::remove(row_dir(suite, "tropd", 1) + "/result.json");
  r = opd::testing::run_command(bench + args + " --no-plots --rows tropd");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("1 (row, seed) runs trained, 3 already done"), std::string::npos) << r.output;

  r = opd::testing::run_command(bench + args + " --rows nosuch");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--rows: no row named 'nosuch'"), std::string::npos) << r.output;
}

TEST(OpdBench, TasksWritesDisjointSplits) {
  ScratchDir dir;
  auto r = opd::testing::run_command(std::string(OPD_BIN_DIR) + "/opd-bench tasks --out " + (dir / "t") +
                                     " --train 30 --test 6 --domains arith");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto test = opd::testing::read_file_bytes(dir / "t/test.jsonl");
  EXPECT_EQ(std::count(test.begin(), test.end(), '\n'), 6);
  EXPECT_EQ(test.find("reverse"), std::string::npos);
}

}  // namespace
}  // namespace opd::paper
