// Text prompts through the trainer: tiny models with the character tokenizer,
// the student in Qwen3's chat format and the teacher reading plain text, so
// the teacher scores the student's responses behind its own prompts.
#include "opd/core/token_alignment.h"
#include "opd/objectives/objective_config.h"
#include "opd/rollout/scoring_context.h"
#include "opd/tokenizer/char_tokenizer.h"
#include "opd/tokenizer/tokenizer.h"
#include "opd/train/trainer.h"
#include "support/test_support.h"
#include "train/smoke_setup.h"
#include "train/step_trajectories.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <fstream>

namespace opd::train {
namespace {

using opd::testing::expect_error;
using opd::testing::ScratchDir;
using opd::testing::write_file_bytes;

TEST(TextPrompts, StudentAndTeacherReadTheirOwnFormat) {
  ScratchDir dir("opd-text");
  auto config = text_smoke_config(dir, 2);
  Metrics m;
  const auto r = StepTrajectories(config).write(0, &m);
  auto tok = tokenizer::load_tokenizer(dir / "student");
  ASSERT_EQ(r.batch.batch_size(), 6);
  ASSERT_TRUE(r.teacher_reads_differently);
  const auto im_end = *tok->token_to_id("<|im_end|>");
  for (int64_t b = 0; b < 6; ++b) {
    const int64_t P = r.batch.prompt_lengths[b].item<int64_t>(), R = r.batch.response_lengths[b].item<int64_t>();
    auto prompt = r.batch.tokens[b].slice(0, 0, P);
    const std::string text = tok->decode(std::vector<int64_t>(prompt.data_ptr<int64_t>(), prompt.data_ptr<int64_t>() + P));
    EXPECT_EQ(text.rfind("<|im_start|>user\n", 0), 0u) << text;
    EXPECT_NE(text.find("<|im_start|>assistant\n<think>\n\n</think>\n\n"), std::string::npos) << text;
    // The teacher reads the bare question.
    const std::string teacher_text = tok->decode(r.teacher_prompts[b]);
    EXPECT_EQ(teacher_text.find("<|im_start|>"), std::string::npos) << teacher_text;
    EXPECT_NE(text.find(teacher_text), std::string::npos);
    // Generation stops at the template's end of turn: never past an <|im_end|>.
    auto response = r.batch.tokens[b].slice(0, P, P + R);
    for (int64_t i = 0; i + 1 < R; ++i) EXPECT_NE(response[i].item<int64_t>(), im_end) << "row " << b;
  }
  // A full run trains and evaluates with the teacher in its own format.
  auto summary = Trainer(config).run();
  EXPECT_EQ(summary.steps, 2);
  EXPECT_TRUE(std::isfinite(summary.after.value("kl_k1")));
}

TEST(TextPrompts, TokenizerDisagreementsAreWarnedAbout) {
  ScratchDir dir("opd-text-warn");
  auto config = text_smoke_config(dir, 1);
  // The teacher's alphabet is rotated: same size, other characters behind the ids.
  const auto& a = tokenizer::default_char_alphabet();
  write_file_bytes(dir / "teacher/tokenizer.json", tokenizer::char_tokenizer_json(a.substr(1) + a.substr(0, 1)));
  config.teacher.chat_template = "llama3";  // ends turns with ids the student's template does not know
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  std::string warnings;
  try {
    Trainer trainer(config);
  } catch (...) {
  }
  for (const auto& line : sink->last_formatted()) warnings += line;
  spdlog::set_default_logger(previous);
  EXPECT_NE(warnings.find("student and teacher tokenizers disagree"), std::string::npos) << warnings;
}

TEST(TextPrompts, TemplatesNeedATokenizerAndAKnownName) {
  ScratchDir dir("opd-text-bad");
  auto config = smoke_config(dir, 1);
  config.student.chat_template = "qwen3";
  expect_error([&] { Trainer t(config); }, {"student.chat_template", "needs a tokenizer"});
  auto text = text_smoke_config(dir, 1);
  text.teacher.chat_template = "nonesuch";
  expect_error([&] { Trainer t(text); }, {"teacher.chat_template", "nonesuch", "tried"});
  auto ids_only = smoke_config(dir, 1);
  std::ofstream(dir / "one_text.jsonl") << "{\"prompt_ids\": [1, 2]}\n{\"prompt\": \"hi\"}\n";
  ids_only.data.train_path = dir / "one_text.jsonl";
  expect_error([&] { Trainer t(ids_only); }, {"one_text.jsonl:2", "needs the student's tokenizer"});
}

}  // namespace
}  // namespace opd::train

namespace opd::train {
namespace {

// A refinement template in the characters of the tiny models' tokenizer.
std::string write_refinement(const ScratchDir& dir) {
  const std::string path = dir / "refine.yaml";
  std::ofstream(path) << "name: tiny\n"
                         "prompt: \"{problem}\\nattempt: {attempt}\\nfix it.{privileged}\"\n"
                         "privileged: \"\\nhint: {solution}\"\n";
  return path;
}

TrainConfig trd_config(const ScratchDir& dir, Refiner refiner) {
  auto c = text_smoke_config(dir, 1);
  std::ofstream(dir / "text.jsonl") << "{\"prompt\": \"what is 2+3?\", \"solution\": \"2+3=5\"}\n"
                                       "{\"prompt\": \"add 7 and 8.\", \"solution\": \"7+8=15\"}\n";
  c.data.prompts_per_step = 2;
  c.objective = default_objective_config(ObjectiveKind::kTrd);
  c.rollout.refinement_template = write_refinement(dir);
  c.rollout.refiner = refiner;
  return c;
}

// OPSD: the refiner and the teacher side read the reference solution; the
// student's own context never holds it.
TEST(Refinement, OpsdTeacherSideSeesThePrivilegedContextAndTheStudentDoesNot) {
  ScratchDir dir("opd-opsd");
  const auto c = trd_config(dir, Refiner::kStudent);
  Metrics m;
  const auto r = StepTrajectories(c).write(0, &m);
  auto tok = tokenizer::load_tokenizer(dir / "student");
  ASSERT_TRUE(r.teacher_reads_differently);
  for (int64_t b = 0; b < r.batch.batch_size(); ++b) {
    const int64_t P = r.batch.prompt_lengths[b].item<int64_t>(), R = r.batch.response_lengths[b].item<int64_t>();
    std::vector<int64_t> prompt(r.batch.tokens[b].data_ptr<int64_t>(), r.batch.tokens[b].data_ptr<int64_t>() + P);
    const auto student_side = tok->decode(prompt), teacher_side = tok->decode(r.teacher_prompts[b]);
    const std::string solution = student_side.find("2+3") != std::string::npos ? "2+3=5" : "7+8=15";
    EXPECT_EQ(student_side.find("hint:"), std::string::npos) << student_side;
    EXPECT_NE(teacher_side.find("hint: " + solution), std::string::npos) << teacher_side << " vs " << solution;
    EXPECT_EQ(teacher_side.find("attempt:"), std::string::npos) << teacher_side;
    for (int64_t t = P; t < P + R; ++t) EXPECT_EQ(r.batch.source[b][t].item<int8_t>(), 3);
  }
  EXPECT_TRUE(m.has("attempt_length"));
  EXPECT_TRUE(std::isfinite(Trainer(c).step(0).value("loss")));
}

// With a teacher: it scores the refined response behind its own prompt, no solution.
TEST(Refinement, TeacherRefinesAndScoresWithoutThePrivilegedText) {
  ScratchDir dir("opd-trd");
  const auto c = trd_config(dir, Refiner::kTeacher);
  const auto r = StepTrajectories(c).write(0);
  auto tok = tokenizer::load_tokenizer(dir / "teacher");
  for (const auto& context : r.teacher_prompts) EXPECT_EQ(tok->decode(context).find("hint:"), std::string::npos);
  EXPECT_TRUE(std::isfinite(Trainer(c).step(0).value("loss")));
}

// TRD logs how often the attempts and their refinements are right, over the
// rows whose line has an answer (here one prompt of two, 2 samples each). The
// tiny random models write no \boxed{} answer, so both rates are 0.
TEST(Refinement, PassRatesOfAttemptsAndRefinementsCountTheRowsWithAnAnswer) {
  ScratchDir dir("opd-trd-pass");
  const auto c = trd_config(dir, Refiner::kTeacher);
  std::ofstream(dir / "text.jsonl") << "{\"prompt\": \"what is 2+3?\", \"solution\": \"2+3=5\", \"answer\": \"5\"}\n"
                                       "{\"prompt\": \"add 7 and 8.\", \"solution\": \"7+8=15\"}\n";
  Metrics m;
  StepTrajectories(c).write(0, &m);
  ASSERT_TRUE(m.has("attempt_pass_rate"));
  ASSERT_TRUE(m.has("refined_pass_rate"));
  EXPECT_EQ(m.entries().at("attempt_pass_rate").count, 2.0);
  EXPECT_EQ(m.entries().at("refined_pass_rate").count, 2.0);
  EXPECT_EQ(m.value("attempt_pass_rate"), 0.0);
  EXPECT_EQ(m.value("refined_pass_rate"), 0.0);
  EXPECT_EQ(m.value("refinement_gain"), 0.0);
}

TEST(Refinement, OpsdNeedsATemplateTextAndSolutions) {
  ScratchDir dir("opd-opsd-bad");
  auto c = trd_config(dir, Refiner::kStudent);
  c.rollout.refinement_template = "";
  expect_error([&] { Trainer t(c); }, {"rollout.refiner: student", "refinement_template"});
  c = trd_config(dir, Refiner::kStudent);
  std::ofstream(dir / "text.jsonl") << "{\"prompt\": \"what is 2+3?\", \"solution\": \"5\"}\n{\"prompt\": \"x\"}\n";
  expect_error([&] { Trainer t(c); }, {"text.jsonl:2", "'solution'"});
  c.rollout.refinement_template = "no_such_template";
  expect_error([&] { Trainer t(c); }, {"rollout.refinement_template", "no_such_template"});
}

}  // namespace
}  // namespace opd::train
