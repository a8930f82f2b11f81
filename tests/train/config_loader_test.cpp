#include "opd/train/config_loader.h"

#include "support/test_support.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace opd::train {
namespace {

using opd::testing::error_message;

const char* kWhere = "r.yaml";

// student, teacher and data on lines 1-3; `extra` starts on line 4.
std::string recipe(const std::string& extra = "",
                   const std::string& data = "data: {train: d.jsonl}\n") {
  return "student: {path: s}\nteacher: {path: t}\n" + data + extra;
}

std::string parse_error(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  return error_message([&] { parse_train_config(yaml, kWhere, overrides); });
}

// Every ObjectiveConfig field, terms included (recursively).
void expect_same_objective(const ObjectiveConfig& a, const ObjectiveConfig& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.normalization, b.normalization);
  EXPECT_EQ(a.lambda, b.lambda);
  EXPECT_EQ(a.reference, b.reference);
  EXPECT_EQ(a.entropy_rho, b.entropy_rho);
  EXPECT_EQ(a.switch_step, b.switch_step);
  EXPECT_EQ(a.top_k, b.top_k);
  EXPECT_EQ(a.renormalize, b.renormalize);
  EXPECT_EQ(a.beta, b.beta);
  EXPECT_EQ(a.entropy_threshold, b.entropy_threshold);
  EXPECT_EQ(a.alpha, b.alpha);
  EXPECT_EQ(a.reward_floor, b.reward_floor);
  EXPECT_EQ(a.mask_threshold, b.mask_threshold);
  EXPECT_EQ(a.outlier, b.outlier);
  EXPECT_EQ(a.prefix_beta, b.prefix_beta);
  EXPECT_EQ(a.kl_clip, b.kl_clip);
  EXPECT_EQ(a.support_k, b.support_k);
  EXPECT_EQ(a.sft_targets, b.sft_targets);
  ASSERT_EQ(a.terms.size(), b.terms.size());
  for (size_t i = 0; i < a.terms.size(); ++i) {
    SCOPED_TRACE("terms[" + std::to_string(i) + "]");
    EXPECT_EQ(a.terms[i].weight, b.terms[i].weight);
    expect_same_objective(a.terms[i].objective, b.terms[i].objective);
  }
}

void expect_same(const TrainConfig& a, const TrainConfig& b) {
  EXPECT_EQ(a.run_dir, b.run_dir);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.micro_batch_size, b.micro_batch_size);
  EXPECT_EQ(a.log_every, b.log_every);
  EXPECT_EQ(a.save_every, b.save_every);
  EXPECT_EQ(a.keep_checkpoints, b.keep_checkpoints);
  EXPECT_EQ(a.max_skipped_steps, b.max_skipped_steps);
  EXPECT_EQ(a.dist_timeout_s, b.dist_timeout_s);
  EXPECT_EQ(a.activation_checkpointing, b.activation_checkpointing);
  EXPECT_EQ(a.dist_bucket_mb, b.dist_bucket_mb);
  EXPECT_EQ(a.student.path, b.student.path);
  EXPECT_EQ(a.student.dtype, b.student.dtype);
  EXPECT_EQ(a.teacher.path, b.teacher.path);
  EXPECT_EQ(a.teacher.dtype, b.teacher.dtype);
  ASSERT_EQ(a.teachers.size(), b.teachers.size());
  for (const auto& [domain, spec] : a.teachers) {
    ASSERT_TRUE(b.teachers.count(domain)) << domain;
    EXPECT_EQ(spec.path, b.teachers.at(domain).path) << domain;
    EXPECT_EQ(spec.dtype, b.teachers.at(domain).dtype) << domain;
    EXPECT_EQ(spec.chat_template, b.teachers.at(domain).chat_template) << domain;
  }
  EXPECT_EQ(a.data.train_path, b.data.train_path);
  EXPECT_EQ(a.data.prompts_per_step, b.data.prompts_per_step);
  EXPECT_EQ(a.data.samples_per_prompt, b.data.samples_per_prompt);
  EXPECT_EQ(a.data.shuffle, b.data.shuffle);
  EXPECT_EQ(a.rollout.max_new_tokens, b.rollout.max_new_tokens);
  EXPECT_EQ(a.rollout.temperature, b.rollout.temperature);  // exact: round trips are lossless
  EXPECT_EQ(a.rollout.top_k, b.rollout.top_k);
  EXPECT_EQ(a.rollout.top_p, b.rollout.top_p);
  EXPECT_EQ(a.rollout.min_p, b.rollout.min_p);
  EXPECT_EQ(a.rollout.teacher_prefix_length, b.rollout.teacher_prefix_length);
  EXPECT_EQ(a.rollout.teacher_prefix_anneal_steps, b.rollout.teacher_prefix_anneal_steps);
  EXPECT_EQ(a.rollout.teacher_prefix_sampling, b.rollout.teacher_prefix_sampling);
  EXPECT_EQ(a.rollout.refinement_template, b.rollout.refinement_template);
  EXPECT_EQ(a.rollout.refiner, b.rollout.refiner);
  EXPECT_EQ(a.lora.rank, b.lora.rank);
  EXPECT_EQ(a.lora.alpha, b.lora.alpha);
  EXPECT_EQ(a.lora.dropout, b.lora.dropout);
  EXPECT_EQ(a.lora.targets, b.lora.targets);
  expect_same_objective(a.objective, b.objective);
  EXPECT_EQ(a.optim.lr, b.optim.lr);
  EXPECT_EQ(a.optim.weight_decay, b.optim.weight_decay);
  EXPECT_EQ(a.optim.beta1, b.optim.beta1);
  EXPECT_EQ(a.optim.beta2, b.optim.beta2);
  EXPECT_EQ(a.optim.eps, b.optim.eps);
  EXPECT_EQ(a.optim.grad_clip, b.optim.grad_clip);
  EXPECT_EQ(a.optim.warmup_steps, b.optim.warmup_steps);
  EXPECT_EQ(a.optim.schedule, b.optim.schedule);
  EXPECT_EQ(a.optim.min_lr_ratio, b.optim.min_lr_ratio);
  EXPECT_EQ(a.optim.zero_stage, b.optim.zero_stage);
}

struct ErrorCase {
  std::string yaml;
  std::vector<std::string> overrides;
  std::vector<std::string> expected;  // substrings the one-line message must hold
};

void expect_errors(const std::vector<ErrorCase>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE("recipe:\n" + c.yaml);
    const std::string msg = parse_error(c.yaml, c.overrides);
    EXPECT_NE(msg, "<no exception>");
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_EQ(msg.rfind(kWhere, 0), 0u) << "does not start with the file name: " << msg;
    for (const auto& e : c.expected) {
      EXPECT_NE(msg.find(e), std::string::npos) << "expected '" << e << "' in: " << msg;
    }
  }
}

TEST(ConfigLoader, SmokeRecipeParses) {
  const TrainConfig c = load_train_config(OPD_SOURCE_DIR "/configs/smoke/opd_tiny.yaml");
  EXPECT_EQ(c.run_dir, "runs/smoke/opd_tiny");
  EXPECT_EQ(c.seed, 0u);
  EXPECT_EQ(c.steps, 40);
  EXPECT_EQ(c.micro_batch_size, 8);
  EXPECT_EQ(c.log_every, 1);
  EXPECT_EQ(c.save_every, 0);
  EXPECT_EQ(c.student.path, "runs/smoke/models/student");
  EXPECT_EQ(c.student.dtype, model::ComputeDtype::kFloat32);
  EXPECT_EQ(c.teacher.path, "runs/smoke/models/teacher");
  EXPECT_EQ(c.teacher.dtype, model::ComputeDtype::kFloat32);
  EXPECT_EQ(c.data.train_path, "configs/smoke/prompts.jsonl");
  EXPECT_EQ(c.data.prompts_per_step, 8);
  EXPECT_EQ(c.data.samples_per_prompt, 2);
  EXPECT_TRUE(c.data.shuffle);
  EXPECT_EQ(c.rollout.max_new_tokens, 24);
  EXPECT_EQ(c.rollout.temperature, 1.0);
  EXPECT_EQ(c.rollout.top_k, 0);
  EXPECT_EQ(c.rollout.top_p, 1.0);
  EXPECT_EQ(c.objective.kind, ObjectiveKind::kOpd);
  EXPECT_EQ(c.optim.lr, 2.0e-2);
  EXPECT_EQ(c.optim.weight_decay, 0.0);
  EXPECT_EQ(c.optim.beta1, 0.9);
  EXPECT_EQ(c.optim.beta2, 0.999);
  EXPECT_EQ(c.optim.eps, 1.0e-8);
  EXPECT_EQ(c.optim.grad_clip, 1.0);
  EXPECT_EQ(c.optim.warmup_steps, 0);
  EXPECT_EQ(c.optim.schedule, LrSchedule::kConstant);
  EXPECT_EQ(c.optim.min_lr_ratio, 0.0);
}

TEST(ConfigLoader, DefaultsFillOmittedKeys) {
  const TrainConfig c = parse_train_config(recipe(), kWhere);
  TrainConfig expected;
  expected.student.path = "s";
  expected.teacher.path = "t";
  expected.data.train_path = "d.jsonl";
  expect_same(c, expected);

  // Sections present but partial keep the defaults of their other keys; an
  // empty section reads as empty.
  const TrainConfig p =
      parse_train_config(recipe("rollout:\noptim: {lr: 2.0e-4, schedule: cosine}\n"), kWhere);
  EXPECT_EQ(p.optim.lr, 2.0e-4);
  EXPECT_EQ(p.optim.schedule, LrSchedule::kCosine);
  EXPECT_EQ(p.optim.eps, expected.optim.eps);
  EXPECT_EQ(p.optim.beta2, expected.optim.beta2);
  EXPECT_EQ(p.rollout.max_new_tokens, expected.rollout.max_new_tokens);
}

TEST(ConfigLoader, AcceptedScalarSpellings) {
  const TrainConfig c = parse_train_config(
      recipe("seed: 18446744073709551615\nsteps: +5\n"
             "rollout: {temperature: 0, top_p: .5}\n"
             "optim: {lr: 3e-4, betas: [0, 0.95], eps: 1E-6, min_lr_ratio: 1}\n",
             "data: {train: d.jsonl, shuffle: False}\n"),
      kWhere);
  EXPECT_EQ(c.seed, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(c.steps, 5);
  EXPECT_EQ(c.rollout.temperature, 0.0);
  EXPECT_EQ(c.rollout.top_p, 0.5);
  EXPECT_EQ(c.optim.lr, 3e-4);
  EXPECT_EQ(c.optim.beta1, 0.0);
  EXPECT_EQ(c.optim.beta2, 0.95);
  EXPECT_EQ(c.optim.eps, 1e-6);
  EXPECT_EQ(c.optim.min_lr_ratio, 1.0);
  EXPECT_FALSE(c.data.shuffle);
}

TEST(ConfigLoader, UnknownKeysAreErrors) {
  expect_errors({
      {recipe("stepz: 3\n"), {}, {"r.yaml:4: ", "stepz: unknown key", "allowed: run_dir, seed, steps"}},
      {recipe("optim:\n  lr: 1.0e-3\n  lrr: 3\n"),
       {},
       {"r.yaml:6: ", "optim.lrr: unknown key (allowed: lr, weight_decay, betas, eps, grad_clip, "
                      "warmup_steps, warmup_ratio, schedule, min_lr_ratio, zero_stage)"}},
      {"student: {path: s, dtyp: float32}\n" + recipe().substr(19),
       {},
       {"r.yaml:1: ", "student.dtyp: unknown key (allowed: path, dtype, device, chat_template)"}},
      {recipe("", "data: {train: d.jsonl, prompts: 3}\n"), {}, {"r.yaml:3: ", "data.prompts: unknown key"}},
      {recipe("rollout: {top_n: 3}\n"), {}, {"rollout.top_n: unknown key"}},
      {recipe("objective: {name: opd, lamda: 1}\n"),
       {},
       {"r.yaml:4: ", "objective.lamda: unknown key (allowed: name, normalization, targets, lambda,"}},
      {recipe("objective: {name: opd, weight: 1}\n"), {}, {"r.yaml:4: ", "objective.weight: unknown key"}},
      {recipe("steps: 3\nsteps: 4\n"), {}, {"r.yaml:5: ", "steps: duplicate key (first at line 4)"}},
  });
}

TEST(ConfigLoader, WrongTypesAreErrors) {
  expect_errors({
      {recipe("steps: \"ten\"\n"), {}, {"r.yaml:4: ", "steps must be an integer, got 'ten'"}},
      {recipe("steps: ten\n"), {}, {"steps must be an integer, got 'ten'"}},
      {recipe("steps: \"10\"\n"), {}, {"steps must be an integer, got '10' (quoted"}},
      {recipe("steps: 2.5\n"), {}, {"steps must be an integer, got '2.5'"}},
      {recipe("steps: 1e3\n"), {}, {"steps must be an integer, got '1e3'"}},
      {recipe("steps: 0x10\n"), {}, {"steps must be an integer, got '0x10'"}},
      {recipe("steps: 99999999999999999999\n"), {}, {"steps must be an integer", "(out of range)"}},
      {recipe("steps: {a: 1}\n"), {}, {"steps must be an integer, got a map"}},
      {recipe("steps:\n"), {}, {"steps must be an integer, got null"}},
      {recipe("seed: 1.5\n"), {}, {"seed must be a non-negative integer, got '1.5'"}},
      {recipe("run_dir: [a, b]\n"), {}, {"run_dir must be a string, got a list of 2 items"}},
      {recipe("rollout: {temperature: [1]}\n"), {}, {"rollout.temperature must be a number, got a list of 1 item"}},
      {recipe("rollout: {top_p: high}\n"), {}, {"rollout.top_p must be a number, got 'high'"}},
      {recipe("optim: {lr: .inf}\n"), {}, {"optim.lr must be a number, got '.inf'"}},
      {recipe("optim: {lr: 1e999}\n"), {}, {"optim.lr must be a number, got '1e999' (out of range)"}},
      {recipe("", "data: {train: d.jsonl, shuffle: yes}\n"), {}, {"data.shuffle must be true or false, got 'yes'"}},
      {recipe("optim: 3\n"), {}, {"r.yaml:4: ", "optim must be a map (keys: lr,", "got '3'"}},
      {recipe("rollout: [1, 2]\n"), {}, {"rollout must be a map", "got a list of 2 items"}},
      {recipe("optim: {betas: [0.9, 0.99, 0.999]}\n"), {}, {"optim.betas must be a list of two numbers", "got a list of 3 items"}},
      {recipe("optim: {betas: 0.9}\n"), {}, {"optim.betas must be a list of two numbers", "got '0.9'"}},
      {recipe("optim: {betas: [0.9, x]}\n"), {}, {"optim.betas[1] must be a number, got 'x'"}},
      {"- a\n- b\n", {}, {"r.yaml:1: ", "the recipe must be a map (keys: run_dir,", "got a list of 2 items"}},
      {recipe("{a: 1}: 3\n"), {}, {"keys must be names, got a map"}},
  });
}

TEST(ConfigLoader, BadValuesAreErrors) {
  expect_errors({
      {recipe("steps: 0\n"), {}, {"r.yaml:4: ", "steps must be >= 1, got 0"}},
      {recipe("micro_batch_size: -2\n"), {}, {"micro_batch_size must be >= 1, got -2"}},
      {recipe("log_every: 0\n"), {}, {"log_every must be >= 1, got 0"}},
      {recipe("save_every: -1\n"), {}, {"save_every must be >= 0, got -1"}},
      {recipe("seed: -1\n"), {}, {"seed must be >= 0, got -1"}},
      {recipe("", "data: {train: d.jsonl, prompts_per_step: 0}\n"), {}, {"r.yaml:3: ", "data.prompts_per_step must be >= 1, got 0"}},
      {recipe("", "data: {train: d.jsonl, samples_per_prompt: 0}\n"), {}, {"data.samples_per_prompt must be >= 1, got 0"}},
      {recipe("rollout: {max_new_tokens: 0}\n"), {}, {"rollout.max_new_tokens must be >= 1, got 0"}},
      {recipe("rollout: {temperature: -0.1}\n"), {}, {"rollout.temperature must be >= 0, got -0.1"}},
      {recipe("rollout: {top_k: -1}\n"), {}, {"rollout.top_k must be >= 0, got -1"}},
      {recipe("rollout: {top_p: 0}\n"), {}, {"rollout.top_p must be in (0, 1], got 0"}},
      {recipe("rollout: {top_p: 1.5}\n"), {}, {"rollout.top_p must be in (0, 1], got 1.5"}},
      {recipe("optim: {lr: 0}\n"), {}, {"optim.lr must be > 0, got 0"}},
      {recipe("optim: {lr: -1.0e-3}\n"), {}, {"optim.lr must be > 0, got -1.0e-3"}},
      {recipe("optim: {weight_decay: -0.1}\n"), {}, {"optim.weight_decay must be >= 0, got -0.1"}},
      {recipe("optim: {betas: [0.9, 1.0]}\n"), {}, {"optim.betas[1] must be in [0, 1), got 1.0"}},
      {recipe("optim: {betas: [-0.1, 0.9]}\n"), {}, {"optim.betas[0] must be in [0, 1), got -0.1"}},
      {recipe("optim: {eps: 0}\n"), {}, {"optim.eps must be > 0, got 0"}},
      {recipe("optim: {grad_clip: -1}\n"), {}, {"optim.grad_clip must be >= 0, got -1"}},
      {recipe("optim: {warmup_steps: -1}\n"), {}, {"optim.warmup_steps must be >= 0, got -1"}},
      {recipe("optim: {min_lr_ratio: 1.5}\n"), {}, {"optim.min_lr_ratio must be in [0, 1], got 1.5"}},
      {recipe("optim: {min_lr_ratio: -0.5}\n"), {}, {"optim.min_lr_ratio must be in [0, 1], got -0.5"}},
      {recipe("objective: {name: ppo}\n"),
       {},
       {"r.yaml:4: ", "objective.name must be one of: sft, opd, gopd, fkl, jsd, entropy_opd, eopd, "
                      "reopold, mask, tropd, trd, fkl_full, rkl_full, sum; got 'ppo'"}},
      {recipe("optim: {schedule: linear}\n"), {}, {"optim.schedule must be one of: constant, cosine; got 'linear'"}},
      {"student: {path: s, dtype: fp16}\n" + recipe().substr(19),
       {},
       {"r.yaml:1: ", "student.dtype must be one of: float32, bfloat16, float16; got 'fp16'"}},
      {"student: {path: \"\"}\n" + recipe().substr(19), {}, {"student.path must be a non-empty string, got ''"}},
      {recipe("run_dir: \"\"\n"), {}, {"run_dir must be a non-empty string, got ''"}},
  });
}

TEST(ConfigLoader, MissingRequiredKeysAreErrors) {
  expect_errors({
      {"teacher: {path: t}\ndata: {train: d.jsonl}\n", {}, {"student.path: missing required key"}},
      {"student: {path: s}\ndata: {train: d.jsonl}\n", {}, {"teacher.path: missing required key"}},
      {"student: {path: s}\nteacher: {path: t}\n", {}, {"data.train: missing required key"}},
      {"student: {dtype: float32}\nteacher: {path: t}\ndata: {train: d.jsonl}\n",
       {},
       {"r.yaml:1: ", "student.path: missing required key"}},
      {recipe("", "data: {shuffle: true}\n"), {}, {"r.yaml:3: ", "data.train: missing required key"}},
      {"", {}, {"student.path: missing required key"}},
      {"# only a comment\n", {}, {"student.path: missing required key"}},
  });
}

TEST(ConfigLoader, MalformedYamlNamesFileAndLine) {
  // An unclosed flow map: yaml-cpp notices on the next line.
  const std::string msg = parse_error(recipe("optim: {lr: 1.0e-3\nsteps: 3\n"));
  EXPECT_EQ(msg.rfind("r.yaml:5:", 0), 0u) << msg;
  EXPECT_NE(msg.find("malformed YAML"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;

  // A stray indented key under a scalar: file, line and column.
  const std::string indent = parse_error(recipe("steps: 3\n  bad: 4\n"));
  EXPECT_EQ(indent.rfind("r.yaml:5:6: malformed YAML: illegal map value", 0), 0u) << indent;

  const std::string docs = parse_error(recipe() + "---\nsteps: 3\n");
  EXPECT_NE(docs.find(": a second YAML document starts here; expected one"), std::string::npos) << docs;
  EXPECT_EQ(docs.rfind("r.yaml:", 0), 0u) << docs;
  // yaml-cpp 0.7's LoadAll never returned on these (memory grew until bad_alloc): one line each now.
  for (const std::string text : {",", ", a: 1", "---\n,\n"}) {
    const std::string msg = parse_error(text);
    EXPECT_EQ(msg.rfind("r.yaml", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  // A leading --- and a trailing ... are one document.
  EXPECT_EQ(parse_train_config("---\n" + recipe() + "...\n", kWhere).steps, parse_train_config(recipe(), kWhere).steps);
  expect_error([] { parse_train_config(recipe(), kWhere, {"steps=3\n---\nseed: 1"}); },
               {"--set", "second YAML document"});
  // A timeout that overflowed into a negative one is out of range.
  expect_error([] { parse_train_config(recipe(), kWhere, {"dist_timeout_s=9223372036854775807"}); },
               {"dist_timeout_s", "[1, 604800]"});
}

TEST(ConfigLoader, OverridesChangeValues) {
  const TrainConfig c = parse_train_config(
      recipe("optim: {lr: 1.0e-3, eps: 1.0e-6}\n"), kWhere,
      {"optim.lr=3e-4", "optim.betas=[0.9,0.95]", "objective.name=opd", "rollout.top_k=50",
       "data.shuffle=false", "student.dtype=bfloat16", "run_dir=runs/a=b", "seed=7",
       "optim.schedule=cosine"});
  EXPECT_EQ(c.optim.lr, 3e-4);
  EXPECT_EQ(c.optim.eps, 1.0e-6);  // sibling from the file kept
  EXPECT_EQ(c.optim.beta1, 0.9);
  EXPECT_EQ(c.optim.beta2, 0.95);
  EXPECT_EQ(c.objective.kind, ObjectiveKind::kOpd);
  EXPECT_EQ(c.rollout.top_k, 50);
  EXPECT_FALSE(c.data.shuffle);
  EXPECT_EQ(c.student.dtype, model::ComputeDtype::kBfloat16);
  EXPECT_EQ(c.student.path, "s");
  EXPECT_EQ(c.run_dir, "runs/a=b");  // split at the first '='
  EXPECT_EQ(c.seed, 7u);
  EXPECT_EQ(c.optim.schedule, LrSchedule::kCosine);
}

TEST(ConfigLoader, LaterOverrideWins) {
  const TrainConfig c =
      parse_train_config(recipe("steps: 3\n"), kWhere, {"steps=5", "optim.lr=1e-3", "steps=7"});
  EXPECT_EQ(c.steps, 7);
  EXPECT_EQ(c.optim.lr, 1e-3);

  // A whole-section override replaces the section; a later key lands in it.
  const TrainConfig s = parse_train_config(recipe(), kWhere,
                                           {"student={path: a, dtype: float16}", "student.path=b"});
  EXPECT_EQ(s.student.path, "b");
  EXPECT_EQ(s.student.dtype, model::ComputeDtype::kFloat16);

  // A bad value overridden by a good one is not an error.
  EXPECT_EQ(parse_train_config(recipe(), kWhere, {"steps=0", "steps=2"}).steps, 2);
}

TEST(ConfigLoader, OverridesCreateMissingSections) {
  const TrainConfig c = parse_train_config("student: {path: s}\n", kWhere,
                                           {"teacher.path=/m/t", "data.train=x.jsonl",
                                            "rollout.max_new_tokens=9"});
  EXPECT_EQ(c.teacher.path, "/m/t");
  EXPECT_EQ(c.data.train_path, "x.jsonl");
  EXPECT_EQ(c.rollout.max_new_tokens, 9);
  EXPECT_EQ(c.rollout.top_p, RolloutConfig{}.top_p);

  // Also onto an empty file and onto an empty (null) section.
  const TrainConfig e = parse_train_config("", kWhere,
                                           {"student.path=s", "teacher.path=t", "data.train=d"});
  EXPECT_EQ(e.student.path, "s");
  EXPECT_EQ(parse_train_config(recipe("optim:\n"), kWhere, {"optim.lr=0.5"}).optim.lr, 0.5);
}

TEST(ConfigLoader, BadOverridesAreErrors) {
  expect_errors({
      {recipe(), {"optim.lr"}, {"r.yaml: --set optim.lr: expected key=value"}},
      {recipe(), {"=3"}, {"--set =3: malformed key ''"}},
      {recipe(), {"optim..lr=3"}, {"malformed key 'optim..lr'"}},
      {recipe(), {"optim.lrr=1"},
       {"r.yaml: --set optim.lrr=1: optim.lrr: unknown key (allowed: lr, weight_decay, betas"}},
      {recipe(), {"stepz=1"}, {"stepz: unknown key (allowed: run_dir, seed, steps"}},
      {recipe(), {"steps.x=1"}, {"steps.x: unknown key (steps is not a map)"}},
      {recipe(), {"optim.lr.x=1"}, {"optim.lr.x: unknown key (optim.lr is not a map)"}},
      {recipe(), {"steps=ten"}, {"r.yaml: --set steps=ten: steps must be an integer, got 'ten'"}},
      {recipe(), {"steps=2.5"}, {"--set steps=2.5: steps must be an integer, got '2.5'"}},
      {recipe(), {"optim.lr=-1"}, {"--set optim.lr=-1: optim.lr must be > 0, got -1"}},
      {recipe(), {"optim.betas=[0.9]"},
       {"--set optim.betas=[0.9]: optim.betas must be a list of two numbers", "got a list of 1 item"}},
      {recipe(), {"optim.betas=[0.9, 2]"}, {"--set optim.betas=[0.9, 2]: optim.betas[1] must be in [0, 1), got 2"}},
      {recipe(), {"optim.betas=[0.9,"}, {"--set optim.betas=[0.9,: malformed YAML value"}},
      {recipe(), {"objective.name=ppo"}, {"--set objective.name=ppo: objective.name must be one of: sft, opd,", "got 'ppo'"}},
      {recipe(), {"optim=3"}, {"--set optim=3: optim must be a map", "got '3'"}},
      {recipe(), {"student={dtype: float32}"},
       {"--set student={dtype: float32}: student.path: missing required key"}},
      {recipe(), {"student={path: s, dtyp: x}"}, {"--set student={path: s, dtyp: x}: student.dtyp: unknown key"}},
      {recipe(), {"run_dir="}, {"--set run_dir=: run_dir must be a string, got null"}},
      // A file error stays attributed to its line even when an override touches the section.
      {recipe("optim: {lrr: 1}\n"), {"optim.lr=1"}, {"r.yaml:4: ", "optim.lrr: unknown key"}},
      // A malformed file is reported, not replaced by the override's map.
      {recipe("optim: 3\n"), {"optim.lr=1"}, {"r.yaml:4: ", "optim must be a map"}},
      {"- a\n", {"steps=3"}, {"r.yaml:1: ", "the recipe must be a map"}},
  });
}

TEST(ConfigLoader, LoadNamesMissingFile) {
  const opd::testing::ScratchDir dir("cfg");
  const std::string missing = dir / "nope.yaml";
  const std::string msg = error_message([&] { load_train_config(missing); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  EXPECT_NE(msg.find("No such file"), std::string::npos) << msg;

  const std::string dir_msg = error_message([&] { load_train_config(dir.path().string()); });
  EXPECT_NE(dir_msg.find("is a directory"), std::string::npos) << dir_msg;

  // Errors inside a loaded file are prefixed by its path.
  const std::string bad = dir / "bad.yaml";
  std::ofstream(bad) << recipe("steps: 0\n");
  const std::string bad_msg = error_message([&] { load_train_config(bad, {}); });
  EXPECT_EQ(bad_msg.rfind(bad + ":4: steps must be >= 1, got 0", 0), 0u) << bad_msg;

  // Overrides reach load_train_config too.
  EXPECT_EQ(load_train_config(bad, {"steps=4"}).steps, 4);
}

TEST(ConfigLoader, YamlRoundTrips) {
  TrainConfig c;
  c.run_dir = "runs/odd: name #1 \"quoted\" \\ end";
  c.seed = std::numeric_limits<uint64_t>::max();
  c.steps = 12345;
  c.micro_batch_size = 3;
  c.log_every = 7;
  c.save_every = 11;
  c.keep_checkpoints = 0;
  c.max_skipped_steps = 4;
  c.dist_timeout_s = 30;
  c.activation_checkpointing = true;
  c.dist_bucket_mb = 0.5;
  c.student = {"/m/student dir", model::ComputeDtype::kBfloat16};
  c.teacher = {"true", model::ComputeDtype::kFloat16};  // a path YAML would read as a bool if unquoted
  c.data.train_path = "123";          // ... or as a number
  c.data.prompts_per_step = 5;
  c.data.samples_per_prompt = 4;
  c.data.shuffle = false;
  c.rollout.max_new_tokens = 8192;
  c.rollout.temperature = 0.1 + 0.2;  // 0.30000000000000004: needs all 17 digits
  c.rollout.top_k = 40;
  c.rollout.top_p = 0.95;
  c.objective.kind = ObjectiveKind::kOpd;
  c.optim.lr = 3e-4;
  c.optim.weight_decay = 0.01;
  c.optim.beta1 = 0.85;
  c.optim.beta2 = 0.95;
  c.optim.eps = 1e-6;
  c.optim.grad_clip = 0.5;
  c.optim.warmup_steps = 10;
  c.optim.schedule = LrSchedule::kCosine;
  c.optim.min_lr_ratio = 0.1;
  c.optim.zero_stage = 1;

  const std::string yaml = train_config_yaml(c);
  SCOPED_TRACE(yaml);
  const TrainConfig back = parse_train_config(yaml, "resolved.yaml");
  expect_same(back, c);
  EXPECT_EQ(train_config_yaml(back), yaml);

  // Every key is written, defaults included.
  for (const char* key : {"run_dir:", "seed:", "steps:", "micro_batch_size:", "log_every:",
                          "save_every:", "keep_checkpoints:", "max_skipped_steps:", "dist_timeout_s:",
                          "dist_bucket_mb:", "activation_checkpointing:",
                          "student:", "teacher:",
                          "path:", "dtype:", "data:",
                          "train:", "prompts_per_step:", "samples_per_prompt:", "shuffle:",
                          "rollout:", "max_new_tokens:", "temperature:", "top_k:", "top_p:",
                          "objective:", "name:", "optim:", "lr:", "weight_decay:", "betas:",
                          "eps:", "grad_clip:", "warmup_steps:", "schedule:", "min_lr_ratio:"}) {
    EXPECT_NE(yaml.find(key), std::string::npos) << key;
  }

  // The defaults round-trip too (the smoke recipe's resolved form).
  const TrainConfig smoke = load_train_config(OPD_SOURCE_DIR "/configs/smoke/opd_tiny.yaml");
  expect_same(parse_train_config(train_config_yaml(smoke), "resolved.yaml"), smoke);
}

TEST(ConfigLoader, ObjectiveDefaultsFollowTheName) {
  // No objective section: opd with its defaults.
  expect_same_objective(parse_train_config(recipe(), kWhere).objective,
                        default_objective_config(ObjectiveKind::kOpd));
  for (const std::string& name : objective_names()) {
    if (name == "sum") continue;  // needs terms
    SCOPED_TRACE(name);
    const TrainConfig c = parse_train_config(recipe("objective: {name: " + name + "}\n"), kWhere);
    expect_same_objective(c.objective, default_objective_config(c.objective.kind));
    EXPECT_EQ(objective_name(c.objective.kind), name);
  }
  const auto named = [](const std::string& name) {
    return parse_train_config(recipe("objective: {name: " + name + "}\n"), kWhere).objective;
  };
  EXPECT_EQ(named("gopd").lambda, 1.25);
  EXPECT_EQ(named("entropy_opd").entropy_rho, 0.2);
  EXPECT_EQ(named("eopd").top_k, 32);
  EXPECT_EQ(named("fkl").top_k, 64);
}

TEST(ConfigLoader, ObjectiveOptionsParse) {
  const TrainConfig t = parse_train_config(
      recipe("objective:\n"
             "  name: tropd\n"
             "  normalization: sequence\n"
             "  lambda: 1.25\n"
             "  reference: models/base\n"
             "  entropy_rho: 0.3\n"
             "  switch_step: 50\n"
             "  outlier: clip\n"
             "  top_k: 16\n"
             "  reward_floor: -2\n"
             "  prefix_beta: 1.0e-3\n"),
      kWhere);
  EXPECT_EQ(t.objective.kind, ObjectiveKind::kTropd);
  EXPECT_EQ(t.objective.normalization, LossNormalization::kSequence);
  EXPECT_EQ(t.objective.lambda, 1.25);
  EXPECT_EQ(t.objective.reference, "models/base");
  EXPECT_EQ(t.objective.entropy_rho, 0.3);
  EXPECT_EQ(t.objective.switch_step, 50);
  EXPECT_EQ(t.objective.outlier, OutlierVariant::kClip);
  EXPECT_EQ(t.objective.top_k, 16);
  EXPECT_EQ(t.objective.reward_floor, -2.0);
  EXPECT_EQ(t.objective.prefix_beta, 1e-3);

  const auto objective = [](const std::string& block) {
    return parse_train_config(recipe("objective: " + block + "\n"), kWhere).objective;
  };
  EXPECT_TRUE(objective("{name: fkl, renormalize: true, top_k: 1}").renormalize);
  EXPECT_EQ(objective("{name: jsd, beta: 0.25}").beta, 0.25);
  const ObjectiveConfig e = objective("{name: eopd, entropy_threshold: 0, alpha: 0.5}");
  EXPECT_EQ(e.entropy_threshold, 0.0);
  EXPECT_EQ(e.alpha, 0.5);
  EXPECT_EQ(e.top_k, 32);  // eopd's default, kept
  EXPECT_EQ(objective("{name: mask, mask_threshold: -1}").mask_threshold, -1.0);
  EXPECT_EQ(objective("{name: reopold, reward_floor: -1.6}").reward_floor, -1.6);
  const ObjectiveConfig f = objective("{name: trd, kl_clip: 10, support_k: 64}");
  EXPECT_EQ(f.kl_clip, 10.0);
  EXPECT_EQ(f.support_k, 64);
  EXPECT_EQ(objective("{name: sft, targets: dataset}").sft_targets, SftTargets::kDataset);
  EXPECT_EQ(objective("{name: entropy_opd, entropy_rho: 1}").entropy_rho, 1.0);
  EXPECT_EQ(objective("{name: opd, entropy_rho: 0}").entropy_rho, 0.0);
  EXPECT_EQ(objective("{name: gopd, lambda: 0.5, reference: \"\"}").reference, "");
}

TEST(ConfigLoader, SumTermsParse) {
  const TrainConfig c = parse_train_config(
      recipe("objective:\n"
             "  name: sum\n"
             "  normalization: sequence\n"
             "  terms:\n"
             "    - {name: opd}\n"
             "    - weight: 0.5\n"
             "      name: fkl\n"
             "      top_k: 16\n"
             "    - {name: gopd, weight: 2, reference: b}\n"),
      kWhere);
  EXPECT_EQ(c.objective.kind, ObjectiveKind::kSum);
  EXPECT_EQ(c.objective.normalization, LossNormalization::kSequence);
  ASSERT_EQ(c.objective.terms.size(), 3u);
  EXPECT_EQ(c.objective.terms[0].weight, 1.0);
  expect_same_objective(c.objective.terms[0].objective, default_objective_config(ObjectiveKind::kOpd));
  EXPECT_EQ(c.objective.terms[1].weight, 0.5);
  EXPECT_EQ(c.objective.terms[1].objective.kind, ObjectiveKind::kFkl);
  EXPECT_EQ(c.objective.terms[1].objective.top_k, 16);
  EXPECT_EQ(c.objective.terms[2].weight, 2.0);
  EXPECT_EQ(c.objective.terms[2].objective.lambda, 1.25);  // gopd's default
  EXPECT_EQ(c.objective.terms[2].objective.reference, "b");
}

TEST(ConfigLoader, ObjectiveErrorsNameKeyAndLine) {
  expect_errors({
      {recipe("objective: {name: fkl, top_k: -3}\n"), {}, {"r.yaml:4: ", "objective.top_k must be >= 1, got -3"}},
      {recipe("objective: {name: tropd, top_k: 0}\n"), {}, {"r.yaml:4: ", "objective.top_k must be >= 1, got 0"}},
      {recipe("objective: {name: gopd, lambda: 0}\n"), {}, {"r.yaml:4: ", "objective.lambda must be > 0, got 0"}},
      {recipe("objective:\n  name: opd\n  lambda: -1\n"), {}, {"r.yaml:6: ", "objective.lambda must be > 0, got -1"}},
      {recipe("objective: {name: tropd, outlier: drop}\n"),
       {},
       {"r.yaml:4: ", "objective.outlier must be one of: fkl, mask, clip; got 'drop'"}},
      {recipe("objective:\n  name: opd\n  beta: 0.5\n"),
       {},
       {"r.yaml:6: ", "objective.beta: not an option of opd (its options: lambda, reference, "
                      "entropy_rho, switch_step)"}},
      {recipe("objective: {name: fkl, lambda: 1.5}\n"),
       {},
       {"r.yaml:4: ", "objective.lambda: not an option of fkl (its options: top_k, renormalize)"}},
      {recipe("objective: {name: sft, top_k: 4}\n"), {}, {"r.yaml:4: ", "objective.top_k: not an option of sft"}},
      {recipe("objective: {name: opd, terms: [{name: opd}]}\n"), {}, {"r.yaml:4: ", "objective.terms: not an option of opd"}},
      {recipe("objective:\n  name: opd\n  reference: models/base\n"),
       {},
       {"r.yaml:6: ", "objective.reference is set but objective.lambda = 1 uses no reference model"}},
      {recipe("objective: {name: gopd, lambda: 1, reference: models/base}\n"),
       {},
       {"r.yaml:4: ", "objective.reference is set but objective.lambda = 1"}},
      {recipe("objective:\n  name: sum\n  terms:\n    - {name: opd}\n    - {name: sum, terms: [{name: opd}]}\n"),
       {},
       {"r.yaml:8: ", "objective.terms[1].name: a sum cannot nest a sum"}},
      {recipe("objective: {name: ppo}\n"),
       {},
       {"r.yaml:4: ", "objective.name must be one of: sft, opd, gopd, fkl, jsd, entropy_opd, eopd, "
                      "reopold, mask, tropd, trd, fkl_full, rkl_full, sum; got 'ppo'"}},
      {recipe("objective: {name: fkl, top_k: \"abc\"}\n"),
       {},
       {"r.yaml:4: ", "objective.top_k must be an integer, got 'abc' (quoted, so a string)"}},
      {recipe("objective: {name: fkl, top_k: abc}\n"), {}, {"r.yaml:4: ", "objective.top_k must be an integer, got 'abc'"}},
      {recipe("objective: {name: fkl, top_k: 2.5}\n"), {}, {"objective.top_k must be an integer, got '2.5'"}},
      {recipe("objective: {name: [opd]}\n"), {}, {"r.yaml:4: ", "objective.name must be a string, got a list of 1 item"}},
      {recipe("objective: {name: opd, lambda: x}\n"), {}, {"r.yaml:4: ", "objective.lambda must be a number, got 'x'"}},
      {recipe("objective: {name: fkl, renormalize: 1}\n"), {}, {"objective.renormalize must be true or false, got '1'"}},
      {recipe("objective: {name: opd, reference: [a]}\n"), {}, {"objective.reference must be a string, got a list"}},
      {recipe("objective: {name: jsd, beta: 1}\n"), {}, {"r.yaml:4: ", "objective.beta must be in (0, 1), got 1"}},
      {recipe("objective: {name: jsd, beta: 0}\n"), {}, {"objective.beta must be in (0, 1), got 0"}},
      {recipe("objective: {name: entropy_opd, entropy_rho: 0}\n"), {}, {"objective.entropy_rho must be in (0, 1], got 0"}},
      {recipe("objective: {name: reopold, entropy_rho: 1.5}\n"), {}, {"objective.entropy_rho must be in [0, 1], got 1.5"}},
      {recipe("objective: {name: reopold, switch_step: -1}\n"), {}, {"objective.switch_step must be >= 0, got -1"}},
      {recipe("objective: {name: eopd, entropy_threshold: -0.1}\n"), {}, {"objective.entropy_threshold must be >= 0, got -0.1"}},
      {recipe("objective: {name: eopd, alpha: -1}\n"), {}, {"objective.alpha must be >= 0, got -1"}},
      {recipe("objective: {name: reopold, reward_floor: .nan}\n"), {}, {"objective.reward_floor must be a number, got '.nan'"}},
      {recipe("objective: {name: mask, mask_threshold: high}\n"), {}, {"objective.mask_threshold must be a number"}},
      {recipe("objective: {name: tropd, prefix_beta: -0.001}\n"), {}, {"objective.prefix_beta must be >= 0, got -0.001"}},
      {recipe("objective: {name: trd, kl_clip: -1}\n"), {}, {"objective.kl_clip must be >= 0, got -1"}},
      {recipe("objective: {name: rkl_full, support_k: -1}\n"), {}, {"objective.support_k must be >= 0, got -1"}},
      {recipe("objective: {name: sft, targets: teachers}\n"), {}, {"objective.targets must be one of: teacher, dataset; got 'teachers'"}},
      {recipe("objective: {name: opd, normalization: batch}\n"),
       {},
       {"r.yaml:4: ", "objective.normalization must be one of: token, sequence; got 'batch'"}},
  });
}

TEST(ConfigLoader, SumErrorsNameTheTerm) {
  expect_errors({
      {recipe("objective:\n  name: sum\n"), {}, {"r.yaml:5: ", "objective.terms: missing required key"}},
      {recipe("objective: {name: sum, terms: []}\n"), {}, {"r.yaml:4: ", "objective.terms must be a non-empty list", "got a list of 0 items"}},
      {recipe("objective: {name: sum, terms: {name: opd}}\n"), {}, {"objective.terms must be a non-empty list", "got a map"}},
      {recipe("objective: {name: sum, terms: [3]}\n"), {}, {"r.yaml:4: ", "objective.terms[0] must be a map (keys: weight, name,", "got '3'"}},
      {recipe("objective:\n  name: sum\n  terms:\n    - {name: opd}\n    - {weight: 2}\n"),
       {},
       {"r.yaml:8: ", "objective.terms[1].name: missing required key"}},
      {recipe("objective:\n  name: sum\n  terms:\n    - {name: opd, weight: 0}\n"),
       {},
       {"r.yaml:7: ", "objective.terms[0].weight must be > 0, got 0"}},
      {recipe("objective:\n  name: sum\n  terms:\n    - {name: opd, weight: -1}\n"), {}, {"objective.terms[0].weight must be > 0, got -1"}},
      {recipe("objective:\n  name: sum\n  terms:\n    - name: opd\n      beta: 0.5\n"),
       {},
       {"r.yaml:8: ", "objective.terms[0].beta: not an option of opd (its options: lambda,"}},
      {recipe("objective:\n  name: sum\n  terms:\n    - {name: opd, lambda: 0}\n"),
       {},
       {"r.yaml:7: ", "objective.terms[0].lambda must be > 0, got 0"}},
      {recipe("objective:\n  name: sum\n  terms:\n    - {name: opd, reference: b}\n"),
       {},
       {"r.yaml:7: ", "objective.terms[0].reference is set but objective.terms[0].lambda = 1"}},
      {recipe("objective:\n  name: sum\n  terms:\n    - {name: ppo}\n"),
       {},
       {"r.yaml:7: ", "objective.terms[0].name must be one of: sft, opd,", "got 'ppo'"}},
      {recipe("objective:\n  name: sum\n  terms:\n    - {name: opd, lamda: 2}\n"),
       {},
       {"r.yaml:7: ", "objective.terms[0].lamda: unknown key (allowed: weight, name,"}},
      {recipe("objective:\n  name: sum\n  terms:\n    - {name: opd, normalization: token}\n"),
       {},
       {"r.yaml:7: ", "objective.terms[0].normalization: not an option of a term"}},
  });
}

TEST(ConfigLoader, ObjectiveOverrides) {
  const std::string gopd = recipe("objective: {name: gopd, lambda: 1.25}\n");
  EXPECT_EQ(parse_train_config(gopd, kWhere, {"objective.lambda=1.5"}).objective.lambda, 1.5);

  // A new name brings its own defaults.
  const ObjectiveConfig fkl = parse_train_config(recipe(), kWhere, {"objective.name=fkl"}).objective;
  expect_same_objective(fkl, default_objective_config(ObjectiveKind::kFkl));
  const ObjectiveConfig eopd =
      parse_train_config(recipe("objective: {name: opd}\n"), kWhere, {"objective.name=eopd"}).objective;
  EXPECT_EQ(eopd.kind, ObjectiveKind::kEopd);
  EXPECT_EQ(eopd.top_k, 32);

  // Whole terms lists, as YAML gives them.
  const ObjectiveConfig sum =
      parse_train_config(recipe(), kWhere,
                         {"objective.name=sum", "objective.terms=[{name: opd}, {weight: 0.5, name: fkl}]"})
          .objective;
  ASSERT_EQ(sum.terms.size(), 2u);
  EXPECT_EQ(sum.terms[1].weight, 0.5);
  EXPECT_EQ(sum.terms[1].objective.kind, ObjectiveKind::kFkl);

  expect_errors({
      {recipe(), {"objective.lambda=0"}, {"r.yaml: --set objective.lambda=0: objective.lambda must be > 0, got 0"}},
      {recipe(), {"objective.lamda=2"}, {"--set objective.lamda=2: objective.lamda: unknown key (allowed: name,"}},
      {recipe(), {"objective.name=fkl", "objective.beta=0.5"},
       {"--set objective.beta=0.5: objective.beta: not an option of fkl (its options: top_k, renormalize)"}},
      // The key set in the file is the one the error points at.
      {gopd, {"objective.name=fkl"}, {"r.yaml:4: ", "objective.lambda: not an option of fkl"}},
      {recipe(), {"objective.name=sum", "objective.terms=[{name: sum}]"},
       {"--set objective.terms=[{name: sum}]: objective.terms[0].name: a sum cannot nest a sum"}},
      {recipe(), {"objective.terms.x=1"}, {"objective.terms.x: unknown key (objective.terms is not a map)"}},
  });
}

// `kind`'s defaults with every option it accepts moved off its default to
// another valid value, so a round trip that dropped or mixed up a key shows.
ObjectiveConfig varied_objective(ObjectiveKind kind, bool term = false) {
  ObjectiveConfig c = default_objective_config(kind);
  if (!term) c.normalization = LossNormalization::kSequence;  // a term's is not written
  for (const std::string& key : objective_option_keys(kind)) {
    if (key == "lambda") {
      c.lambda = 0.1 + 1.2;  // 1.3000000000000003: needs all 17 digits
    } else if (key == "reference") {
      c.reference = "/m/base: model #2";
    } else if (key == "entropy_rho") {
      c.entropy_rho = 0.35;
    } else if (key == "switch_step") {
      c.switch_step = 50;
    } else if (key == "top_k") {
      c.top_k = 17;
    } else if (key == "renormalize") {
      c.renormalize = true;
    } else if (key == "beta") {
      c.beta = 0.3;
    } else if (key == "entropy_threshold") {
      c.entropy_threshold = 1.1;
    } else if (key == "alpha") {
      c.alpha = 2.5;
    } else if (key == "reward_floor") {
      c.reward_floor = -2.25;
    } else if (key == "mask_threshold") {
      c.mask_threshold = -0.75;
    } else if (key == "outlier") {
      c.outlier = OutlierVariant::kClip;
    } else if (key == "prefix_beta") {
      c.prefix_beta = 1e-4;
    } else if (key == "kl_clip") {
      c.kl_clip = 10.0;
    } else if (key == "fkl_after_first_error") {
      c.fkl_after_first_error = false;
    } else if (key == "support_k") {
      c.support_k = 128;
    } else if (key == "targets") {
      c.sft_targets = SftTargets::kDataset;
    } else if (key == "terms") {
      c.terms = {{0.25, varied_objective(ObjectiveKind::kOpd, true)},
                 {2.0, varied_objective(ObjectiveKind::kTropd, true)}};
    } else {
      ADD_FAILURE() << "varied_objective: no value for " << key;
    }
  }
  return c;
}

// The keys written directly under `objective:` in a resolved config, in order.
std::vector<std::string> objective_block_keys(const std::string& yaml) {
  const size_t begin = yaml.find("\nobjective:\n");
  const size_t end = yaml.find("\noptim:", begin);
  EXPECT_NE(begin, std::string::npos);
  EXPECT_NE(end, std::string::npos);
  std::istringstream block(yaml.substr(begin + 1, end - begin));
  std::vector<std::string> keys;
  for (std::string line; std::getline(block, line);) {
    if (line.size() > 2 && line.compare(0, 2, "  ") == 0 && line[2] != ' ' && line[2] != '-') {
      keys.push_back(line.substr(2, line.find(':') - 2));
    }
  }
  return keys;
}

TEST(ConfigLoader, ObjectiveYamlRoundTripsForEveryObjective) {
  TrainConfig base;
  base.student.path = "s";
  base.teacher.path = "t";
  base.data.train_path = "d.jsonl";

  std::vector<ObjectiveConfig> cases;
  for (const std::string& name : objective_names()) {
    const ObjectiveKind kind = objective_kind_from_name(name, "test");
    if (kind != ObjectiveKind::kSum) cases.push_back(default_objective_config(kind));
    cases.push_back(varied_objective(kind));
  }
  for (OutlierVariant v : {OutlierVariant::kFkl, OutlierVariant::kMask, OutlierVariant::kClip}) {
    ObjectiveConfig t = varied_objective(ObjectiveKind::kTropd);
    t.outlier = v;
    cases.push_back(t);
  }
  ObjectiveConfig sum = default_objective_config(ObjectiveKind::kSum);
  sum.terms = {{1.0, default_objective_config(ObjectiveKind::kOpd)},
               {0.5, default_objective_config(ObjectiveKind::kFkl)}};
  cases.push_back(sum);

  for (const ObjectiveConfig& objective : cases) {
    TrainConfig c = base;
    c.objective = objective;
    const std::string yaml = train_config_yaml(c);
    SCOPED_TRACE(yaml);
    const TrainConfig back = parse_train_config(yaml, "resolved.yaml");
    expect_same(back, c);
    EXPECT_EQ(train_config_yaml(back), yaml);

    // name, normalization and every option of the objective; nothing else.
    std::vector<std::string> expected = {"name", "normalization"};
    for (const auto& k : objective_option_keys(objective.kind)) expected.push_back(k);
    EXPECT_EQ(objective_block_keys(yaml), expected);
  }
}

TEST(ConfigLoader, MethodRecipesParse) {
  struct Method {
    ObjectiveKind kind;
    std::function<void(const ObjectiveConfig&)> check;  // the method's key options
  };
  const std::map<std::string, Method> methods = {
      {"sft", {ObjectiveKind::kSft, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.sft_targets, SftTargets::kTeacher);
       }}},
      {"opd", {ObjectiveKind::kOpd, [](const ObjectiveConfig& o) { EXPECT_EQ(o.lambda, 1.0); }}},
      {"gopd", {ObjectiveKind::kGopd, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.lambda, 1.25);
         EXPECT_EQ(o.reference, "");
       }}},
      {"fkl", {ObjectiveKind::kFkl, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.top_k, 64);
         EXPECT_FALSE(o.renormalize);
       }}},
      {"jsd", {ObjectiveKind::kJsd, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.beta, 0.5);
         EXPECT_EQ(o.top_k, 64);
       }}},
      {"entropy_opd", {ObjectiveKind::kEntropyOpd, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.entropy_rho, 0.2);
         EXPECT_EQ(o.switch_step, 0);
       }}},
      {"eopd", {ObjectiveKind::kEopd, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.top_k, 32);
         EXPECT_EQ(o.entropy_threshold, 0.8);
         EXPECT_EQ(o.alpha, 1.0);
       }}},
      {"reopold", {ObjectiveKind::kReopold, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.reward_floor, -1.6);
         EXPECT_EQ(o.entropy_rho, 0.0);
       }}},
      {"reopold_2stage", {ObjectiveKind::kReopold, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.reward_floor, -1.6);
         EXPECT_EQ(o.entropy_rho, 0.2);
         EXPECT_EQ(o.switch_step, 50);
       }}},
      {"mask", {ObjectiveKind::kMask, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.mask_threshold, -1.6);
       }}},
      {"tropd", {ObjectiveKind::kTropd, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.outlier, OutlierVariant::kFkl);
         EXPECT_EQ(o.top_k, 64);
         EXPECT_EQ(o.prefix_beta, 0.001);
         EXPECT_EQ(o.lambda, 1.0);
       }}},
      {"tropd_mask", {ObjectiveKind::kTropd, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.outlier, OutlierVariant::kMask);
         EXPECT_EQ(o.prefix_beta, 0.001);
       }}},
      {"tropd_clip", {ObjectiveKind::kTropd, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.outlier, OutlierVariant::kClip);
         EXPECT_EQ(o.reward_floor, -1.6);
         EXPECT_EQ(o.prefix_beta, 0.001);
       }}},
      {"tropd_gopd", {ObjectiveKind::kTropd, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.outlier, OutlierVariant::kFkl);
         EXPECT_EQ(o.lambda, 1.25);
         EXPECT_EQ(o.prefix_beta, 0.001);
       }}},
      {"trd", {ObjectiveKind::kTrd, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.kl_clip, 0.0);
         EXPECT_EQ(o.support_k, 0);
       }}},
      {"trd_opsd", {ObjectiveKind::kTrd, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.kl_clip, 0.0);
         EXPECT_EQ(o.support_k, 0);
       }}},
      {"fkl_full", {ObjectiveKind::kFklFull, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.kl_clip, 0.0);
         EXPECT_EQ(o.support_k, 0);
       }}},
      {"rkl_full", {ObjectiveKind::kRklFull, [](const ObjectiveConfig& o) {
         EXPECT_EQ(o.kl_clip, 0.0);
         EXPECT_EQ(o.support_k, 0);
       }}},
      {"sum_opd_fkl", {ObjectiveKind::kSum, [](const ObjectiveConfig& o) {
         ASSERT_EQ(o.terms.size(), 2u);
         EXPECT_EQ(o.terms[0].objective.kind, ObjectiveKind::kOpd);
         EXPECT_EQ(o.terms[1].objective.kind, ObjectiveKind::kFkl);
         EXPECT_EQ(o.terms[1].objective.top_k, 64);
       }}},
  };

  size_t seen = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(OPD_SOURCE_DIR "/configs/methods")) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string method = entry.path().stem().string();
    SCOPED_TRACE(entry.path().string());
    const TrainConfig c = load_train_config(entry.path().string());
    const auto it = methods.find(method);
    ASSERT_NE(it, methods.end()) << "no expectations for " << method;
    ++seen;
    EXPECT_EQ(c.objective.kind, it->second.kind);
    it->second.check(c.objective);

    // The shared setting: the TrOPD paper's benchmark training.
    EXPECT_EQ(c.run_dir, "runs/methods/" + method);
    EXPECT_EQ(c.steps, 200);
    EXPECT_EQ(c.micro_batch_size, 4);
    EXPECT_EQ(c.student.path, "models/Qwen3-1.7B");
    EXPECT_EQ(c.student.dtype, model::ComputeDtype::kBfloat16);
    // Qwen3 reads text in its chat format: a recipe whose paths are swapped
    // for the real models must not train on untemplated text.
    EXPECT_EQ(c.student.chat_template, "qwen3");
    // The rollouts the method trains on: teacher-prefix guidance for TrOPD,
    // refinement for TRD (by the teacher, or in OPSD by the frozen student).
    const bool tropd = c.objective.kind == ObjectiveKind::kTropd, opsd = method == "trd_opsd";
    EXPECT_EQ(c.rollout.teacher_prefix_length, tropd ? 8096 : 0);
    if (tropd) {
      EXPECT_EQ(c.rollout.teacher_prefix_sampling, TeacherPrefixSampling::kUniform);
    }
    EXPECT_EQ(c.rollout.refinement_template, c.objective.kind == ObjectiveKind::kTrd ? "math" : "");
    EXPECT_EQ(c.rollout.refiner, opsd ? Refiner::kStudent : Refiner::kTeacher);
    EXPECT_EQ(c.teacher.path, opsd ? "models/Qwen3-1.7B" : "models/Qwen3-8B");
    EXPECT_EQ(c.teacher.dtype, model::ComputeDtype::kBfloat16);
    if (!opsd) {
      EXPECT_EQ(c.teacher.chat_template, "qwen3");
    }
    EXPECT_EQ(c.data.train_path, opsd ? "data/math_prompts_with_solutions.jsonl" : "data/math_prompts.jsonl");
    EXPECT_EQ(c.data.prompts_per_step, 128);
    EXPECT_EQ(c.data.samples_per_prompt, 4);
    EXPECT_EQ(c.rollout.max_new_tokens, 8096);
    EXPECT_EQ(c.rollout.temperature, 1.0);
    EXPECT_EQ(c.optim.lr, 5e-6);
    EXPECT_EQ(c.optim.schedule, LrSchedule::kConstant);
    EXPECT_EQ(c.optim.warmup_steps, 0);

    // Each recipe's resolved form reads back the same.
    expect_same(parse_train_config(train_config_yaml(c), "resolved.yaml"), c);
  }
  EXPECT_EQ(seen, methods.size()) << "a method recipe is missing from configs/methods";
}

}  // namespace
}  // namespace opd::train

namespace opd::train {
namespace {

// OPSD's teacher is the frozen student: the teacher block may be left out.
TEST(ConfigLoader, OpsdNeedsNoTeacherBlock) {
  auto c = parse_train_config("student: {path: s}\ndata: {train: d.jsonl}\nrollout: {refiner: student}\n"
                              "objective: {name: trd}\n", "r.yaml", {});
  EXPECT_EQ(c.teacher.path, "s");
  EXPECT_EQ(c.rollout.refiner, Refiner::kStudent);
  opd::testing::expect_error(
      [] { parse_train_config("student: {path: s}\ndata: {train: d.jsonl}\n", "r.yaml", {}); },
      {"teacher.path: missing required key"});
  opd::testing::expect_error(
      [] { parse_train_config("student: {path: s}\nteacher: {path: t}\ndata: {train: d.jsonl}\nrollout: {refiner: self}\n", "r.yaml", {}); },
      {"rollout.refiner must be one of: teacher, student"});
}

}  // namespace
}  // namespace opd::train

namespace opd::train {
namespace {

// Multi-teacher: `teachers` maps a prompt domain to a model; `teacher` is the
// optional default for every other domain.
TEST(ConfigLoader, TeachersByDomainParse) {
  const auto c = parse_train_config(
      "student: {path: s}\nteachers:\n  math: {path: /m/math, dtype: bfloat16}\n  code: {path: /m/code}\n"
      "data: {train: d.jsonl}\n",
      kWhere, {});
  EXPECT_TRUE(c.teacher.path.empty()) << "no default teacher was given";
  ASSERT_EQ(c.teachers.size(), 2u);
  EXPECT_EQ(c.teachers.at("math").path, "/m/math");
  EXPECT_EQ(c.teachers.at("math").dtype, model::ComputeDtype::kBfloat16);
  EXPECT_EQ(c.teachers.at("code").path, "/m/code");
  EXPECT_EQ(c.teachers.at("code").dtype, model::ComputeDtype::kFloat32) << "omitted keys take the teacher defaults";

  // With a default teacher too, and a domain added from the command line.
  const auto d = parse_train_config(recipe("teachers: {math: {path: /m/math}}\n"), kWhere,
                                    {"teachers.code={path: /m/code, dtype: float16}"});
  EXPECT_EQ(d.teacher.path, "t");
  ASSERT_EQ(d.teachers.size(), 2u);
  EXPECT_EQ(d.teachers.at("code").path, "/m/code");
  EXPECT_EQ(d.teachers.at("code").dtype, model::ComputeDtype::kFloat16);

  // The resolved form reads back the same, with and without a default teacher.
  for (const TrainConfig* cfg : {&c, &d}) {
    const std::string yaml = train_config_yaml(*cfg);
    SCOPED_TRACE(yaml);
    expect_same(parse_train_config(yaml, "resolved.yaml"), *cfg);
  }
  EXPECT_EQ(train_config_yaml(c).find("teacher:"), std::string::npos) << "no empty default teacher is written";
}

TEST(ConfigLoader, TeachersErrorsNameTheKey) {
  expect_errors({
      {"student: {path: s}\ndata: {train: d.jsonl}\n", {}, {"teacher.path: missing required key"}},
      {recipe("teachers: [a, b]\n"), {}, {"r.yaml:4", "teachers", "must be a map from a prompt domain"}},
      {recipe("teachers: {math: {dtype: float32}}\n"), {}, {"teachers.math.path", "missing required key"}},
      {recipe("teachers: {math: {path: m, size: 3}}\n"), {}, {"teachers.math.size", "unknown key"}},
      {recipe("teachers: {math: {path: m, dtype: int8}}\n"), {}, {"teachers.math.dtype"}},
      {"student: {path: s}\ndata: {train: d.jsonl}\nrollout: {refiner: student}\nteachers: {math: {path: m}}\n",
       {}, {"r.yaml:4", "OPSD", "remove teachers"}},
      {recipe(), {"teachers.math.path=m"}, {"teachers.math.path", "set a whole teacher"}},
  });
}

}  // namespace
}  // namespace opd::train

namespace opd::train {
namespace {

TEST(ConfigLoader, LoraParsesAndChecksItsKeys) {
  const auto c = parse_train_config(recipe("lora: {rank: 8, alpha: 32, dropout: 0.05, targets: [q_proj, v_proj]}\n"),
                                    kWhere, {});
  EXPECT_EQ(c.lora.rank, 8);
  EXPECT_EQ(c.lora.alpha, 32.0);
  EXPECT_EQ(c.lora.dropout, 0.05);
  EXPECT_EQ(c.lora.targets, (std::vector<std::string>{"q_proj", "v_proj"}));
  expect_same(parse_train_config(train_config_yaml(c), "resolved.yaml"), c);
  EXPECT_EQ(parse_train_config(recipe(), kWhere, {}).lora.rank, 0) << "off by default";
  expect_errors({
      {recipe("lora: {rank: -1}\n"), {}, {"lora.rank", ">= 0"}},
      {recipe("lora: {rank: 4, alpha: 0}\n"), {}, {"lora.alpha"}},
      {recipe("lora: {rank: 4, dropout: 1}\n"), {}, {"lora.dropout"}},
      {recipe("lora: {rank: 4, targets: [q_proj, lm_head]}\n"), {}, {"lora.targets[1]", "lm_head", "q_proj"}},
      {recipe("lora: {rank: 4, targets: [q_proj, q_proj]}\n"), {}, {"lora.targets[1]", "listed twice"}},
      {recipe("lora: {rank: 4, targets: []}\n"), {}, {"lora.targets", "non-empty list"}},
      {recipe("lora: {rank: 4, size: 3}\n"), {}, {"lora.size", "unknown key"}},
      {recipe("optim: {zero_stage: 2}\n"), {}, {"optim.zero_stage must be in [0, 1], got 2"}},
  });
}

}  // namespace
}  // namespace opd::train
