// Evaluation of data.eval during training (training_evaluation.h): when it
// runs, what eval.jsonl and TensorBoard's eval/ hold, that the figures are
// the answers' verdicts, that a resume keeps each evaluation once, and that
// bad eval sets are named at load. Plus sft on the dataset's solutions, which
// needs no teacher.
#include "opd/model/pretrained.h"
#include "opd/rollout/generation_settings.h"
#include "opd/rollout/sequence_packing.h"
#include "opd/eval/verifier.h"
#include "opd/train/answer_evaluation.h"
#include "opd/train/config_loader.h"
#include "opd/train/prompt_formats.h"
#include "opd/train/trainer.h"
#include "opd/train/training_evaluation.h"
#include "support/test_support.h"
#include "train/smoke_setup.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace opd::train {
namespace {

namespace fs = std::filesystem;
using opd::testing::expect_error;
using opd::testing::read_file_bytes;
using opd::testing::ScratchDir;

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream lines(read_file_bytes(path));
  for (std::string line; std::getline(lines, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

// What the initial student writes greedily (eval.max_new_tokens 6) for `prompt`.
std::string greedy_text(const TrainConfig& c, const std::string& prompt) {
  auto model = model::load_pretrained(c.student.path);
  const auto format = load_prompt_format(c.student, c.data, "student");
  rollout::GenerationConfig g;
  g.sampling.temperature = 0;
  g.max_new_tokens = 6;
  g.stop_token_ids = rollout::stop_token_ids(model->config(), format);
  const auto ids = rollout::response_ids(rollout::generate(model, {format.prompt_ids({{"user", prompt}})}, g))[0];
  return format.tokenizer->decode(ids, true);
}

// The text smoke setting with a 3-problem eval set: the first problem's
// answer is what the initial student writes greedily, the others' are not.
TrainConfig eval_config(const ScratchDir& dir, int64_t steps) {
  auto c = text_smoke_config(dir, steps);
  c.eval.temperature = 0;
  c.eval.max_new_tokens = 6;
  c.eval.k = 2;
  c.eval.verifier = AnswerVerifier::kExactMatch;
  c.eval.log_samples = 6;
  const std::string written = greedy_text(c, "1+1?");
  EXPECT_FALSE(written.empty());
  std::ofstream(dir / "eval.jsonl") << nlohmann::json({{"prompt", "1+1?"}, {"answer", written}, {"domain", "a"}}).dump()
                                    << "\n"
                                    << nlohmann::json({{"prompt", "2+2?"}, {"answer", "~~"}, {"domain", "a"}}).dump()
                                    << "\n"
                                    << nlohmann::json({{"prompt", "3+3?"}, {"answer", "~~"}, {"domain", "b"}}).dump()
                                    << "\n";
  c.data.eval_path = dir / "eval.jsonl";
  return c;
}

// Each logged evaluation's figures are its samples' verdicts (all are logged here).
void expect_figures_from_verdicts(const nlohmann::json& line) {
  const auto& samples = line.at("samples");
  ASSERT_EQ(samples.size(), 6u) << line.dump();
  double right = 0, right_a = 0;
  for (const auto& s : samples) {
    right += s.at("correct").get<bool>();
    if (s.at("domain") == "a") right_a += s.at("correct").get<bool>();
  }
  EXPECT_DOUBLE_EQ(line.at("avg@2").get<double>(), right / 6) << line.dump();
  EXPECT_DOUBLE_EQ(line.at("a/avg@2").get<double>(), right_a / 4) << line.dump();
  EXPECT_TRUE(line.contains("b/pass@2") && line.contains("pass@1") && line.contains("response_length"));
}

TEST(TrainingEvaluation, RunsBeforeEveryIntervalAndAtTheEnd) {
  ScratchDir dir("opd-eval-train");
  auto c = eval_config(dir, 5);
  c.eval.every = 2;
  Trainer trainer(c);
  const auto summary = trainer.run();
  const auto lines = read_jsonl(dir / "run/eval.jsonl");
  std::vector<int64_t> steps;
  for (const auto& l : lines) steps.push_back(l.at("step"));
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 2, 4, 5}));
  for (const auto& l : lines) expect_figures_from_verdicts(l);
  // Before training, greedy: problem 1's two samples are what the student wrote, the others' are wrong.
  EXPECT_DOUBLE_EQ(lines[0].at("avg@2").get<double>(), 1.0 / 3);
  EXPECT_DOUBLE_EQ(lines[0].at("a/pass@1").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(lines[0].at("b/avg@2").get<double>(), 0.0);
  EXPECT_EQ(lines[0].at("samples")[0].at("line"), 1);
  EXPECT_EQ(lines[0].at("samples")[0].at("correct"), true);
  EXPECT_EQ(summary.eval_before.value("avg@2"), lines[0].at("avg@2").get<double>());
  EXPECT_EQ(summary.eval_after.value("avg@2"), lines[3].at("avg@2").get<double>());
  // The same draws at every evaluation: the final one again gives the same figures.
  const auto format = load_prompt_format(c.student, c.data, "student");
  const auto again = evaluate_training(trainer.student(), format, data::PromptDataset::from_file(c.data.eval_path, &format),
                                       c, nullptr);
  EXPECT_EQ(again.metrics.value("avg@2"), lines[3].at("avg@2").get<double>());
  EXPECT_EQ(again.metrics.value("response_length"), lines[3].at("response_length").get<double>());
}

// A rank's share of the problems, keyed from its first problem, draws the
// samples the whole set draws for those problems (what makes a data
// parallel evaluation that of one process).
TEST(TrainingEvaluation, AShareDrawsWhatTheWholeSetDraws) {
  ScratchDir dir("opd-eval-share");
  const auto c = eval_config(dir, 1);
  auto model = model::load_pretrained(c.student.path);
  const auto format = load_prompt_format(c.student, c.data, "student");
  const auto all = data::PromptDataset::from_file(c.data.eval_path, &format);
  const auto verifier = eval::make_verifier("exact_match");
  AnswerEvalOptions options;
  options.k = 3;
  options.generation.max_new_tokens = 8;
  options.generation.seed = 5;
  const auto whole = evaluate_answers(model, format, all, *verifier, options);
  const auto tail = data::PromptDataset::from_prompts({all[1], all[2]}, all.path());
  options.generation.first_row = 1 * options.k;
  const auto share = evaluate_answers(model, format, tail, *verifier, options);
  ASSERT_EQ(share.samples.size(), 2u);
  std::set<std::string> distinct;
  for (size_t p = 0; p < 2; ++p) {
    for (size_t s = 0; s < 3; ++s) {
      EXPECT_EQ(share.samples[p][s].response, whole.samples[p + 1][s].response) << p << " " << s;
      distinct.insert(whole.samples[p + 1][s].response);
    }
  }
  EXPECT_GT(distinct.size(), 1u) << "sampled at temperature 1, the samples should differ";
  options.generation.first_row = 0;  // keyed as problem 0: other draws
  const auto misplaced = evaluate_answers(model, format, tail, *verifier, options);
  EXPECT_NE(misplaced.samples[0][0].response + misplaced.samples[0][1].response,
            whole.samples[1][0].response + whole.samples[1][1].response);
}

TEST(TrainingEvaluation, DueEveryIntervalAndAfterTheLastStep) {
  EvalConfig e;
  EXPECT_FALSE(evaluation_due(e, 3, 10));
  EXPECT_TRUE(evaluation_due(e, 10, 10));
  e.every = 4;
  EXPECT_TRUE(evaluation_due(e, 4, 10));
  EXPECT_TRUE(evaluation_due(e, 8, 10));
  EXPECT_FALSE(evaluation_due(e, 9, 10));
  EXPECT_FALSE(evaluation_due(e, 0, 10)) << "before training is eval.before_training's";
}

// A resume keeps the evaluations up to its checkpoint, once each, in
// eval.jsonl and in TensorBoard (whose restart drops the earlier file's
// events at and after the checkpoint's step).
TEST(TrainingEvaluation, AResumeKeepsEachEvaluationOnce) {
  ScratchDir dir("opd-eval-resume");
  auto c = eval_config(dir, 4);
  c.eval.every = 2;
  c.save_every = 2;
  c.eval.before_training = false;
  Trainer(c).run();
  const auto whole = read_jsonl(dir / "run/eval.jsonl");
  ASSERT_EQ(whole.size(), 2u);
  Trainer resumed(c);
  resumed.resume(dir / "run/checkpoint-2");
  resumed.run();
  const auto lines = read_jsonl(dir / "run/eval.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].dump(), whole[0].dump());
  EXPECT_EQ(lines[1].at("step"), 4);
  EXPECT_EQ(lines[1].at("avg@2"), whole[1].at("avg@2")) << "an exact resume evaluates the same weights";
  const auto r = opd::testing::run_reference("read_back.py", "tensorboard_dir '" + (dir / "run/tensorboard") + "' " +
                                                                 (dir / "tb.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto tb = nlohmann::json::parse(read_file_bytes(dir / "tb.json"));
  const auto& avg = tb.at("eval/avg@2");
  ASSERT_EQ(avg.size(), 2u) << avg.dump();
  EXPECT_EQ(avg[0][0], 2);
  EXPECT_EQ(avg[1][0], 4);
  EXPECT_NEAR(avg[0][1].get<double>(), whole[0].at("avg@2").get<double>(), 1e-6);
}

TEST(TrainingEvaluation, BadEvalSetsAreNamedAtLoad) {
  ScratchDir dir("opd-eval-bad");
  auto c = eval_config(dir, 1);
  c.data.eval_path = dir / "missing.jsonl";
  expect_error([&] { Trainer t(c); }, {"missing.jsonl"});
  std::ofstream(dir / "no_answer.jsonl") << "{\"prompt\": \"1+1?\", \"answer\": \"2\"}\n{\"prompt\": \"x\"}\n";
  c.data.eval_path = dir / "no_answer.jsonl";
  expect_error([&] { Trainer t(c); }, {"no_answer.jsonl:2: no 'answer' to verify against (data.eval)"});
  std::ofstream(dir / "long.jsonl") << "{\"prompt\": \"1+1?\", \"answer\": \"2\"}\n"
                                    << nlohmann::json({{"prompt", std::string(4100, 'x')}, {"answer", "2"}}).dump() << "\n";
  c.data.eval_path = dir / "long.jsonl";
  expect_error([&] { Trainer t(c); }, {"long.jsonl:2: the prompt has", "eval.max_new_tokens 6"});
  auto plain = smoke_config(dir, 1);  // models without a tokenizer
  plain.data.eval_path = dir / "eval.jsonl";
  expect_error([&] { Trainer t(plain); }, {"data.eval: answers are verified as text", "no tokenizer.json"});
  expect_error([&] { load_train_config(OPD_SOURCE_DIR "/configs/smoke/opd_tiny.yaml", {"eval.verifier=regex"}); },
               {"eval.verifier", "math_boxed, exact_match", "regex"});
}

// sft on the dataset's solutions reads no teacher: a recipe without one
// trains; the other objectives still ask for it.
TEST(TrainingEvaluation, SftOnTheDatasetNeedsNoTeacher) {
  ScratchDir dir("opd-sft-no-teacher");
  std::ofstream(dir / "recipe.yaml") << "student: {path: " << (dir / "student") << "}\n"
                                     << "data: {train: " << (dir / "sft.jsonl") << ", prompts_per_step: 2}\n"
                                     << "objective: {name: sft, targets: dataset}\n"
                                     << "optim: {lr: 0.03}\n"
                                     << "run_dir: " << (dir / "run") << "\nsteps: 6\n";
  std::ofstream(dir / "sft.jsonl") << "{\"prompt_ids\": [3, 4], \"response_ids\": [7, 11, 13, 1]}\n"
                                      "{\"prompt_ids\": [5], \"response_ids\": [7, 11, 13, 1]}\n";
  smoke_config(dir, 1);  // writes dir/student (and a teacher this recipe does not name)
  auto c = load_train_config(dir / "recipe.yaml");
  EXPECT_TRUE(c.teacher.path.empty());
  EXPECT_TRUE(c.teachers.empty());
  Trainer trainer(c);
  const auto summary = trainer.run();
  EXPECT_LT(summary.last_step.value("nll"), summary.first_step.value("nll"));
  EXPECT_TRUE(summary.after.has("student_logprob"));
  EXPECT_FALSE(summary.after.has("kl_k1")) << "no teacher to compare with";
  // The resolved config reads back without a teacher.
  EXPECT_TRUE(load_train_config(dir / "run/config.yaml").teacher.path.empty());
  std::ofstream(dir / "opd.yaml") << "student: {path: " << (dir / "student") << "}\n"
                                  << "data: {train: " << (dir / "sft.jsonl") << "}\n";
  expect_error([&] { load_train_config(dir / "opd.yaml"); }, {"teacher"});
  std::ofstream(dir / "seqkd.yaml") << "student: {path: " << (dir / "student") << "}\n"
                                    << "data: {train: " << (dir / "sft.jsonl") << "}\nobjective: {name: sft}\n";
  expect_error([&] { load_train_config(dir / "seqkd.yaml"); }, {"teacher"});
}

}  // namespace
}  // namespace opd::train
