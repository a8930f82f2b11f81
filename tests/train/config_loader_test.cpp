#include "opd/train/config_loader.h"

#include "support/test_support.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <limits>
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

void expect_same(const TrainConfig& a, const TrainConfig& b) {
  EXPECT_EQ(a.run_dir, b.run_dir);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.micro_batch_size, b.micro_batch_size);
  EXPECT_EQ(a.log_every, b.log_every);
  EXPECT_EQ(a.save_every, b.save_every);
  EXPECT_EQ(a.student.path, b.student.path);
  EXPECT_EQ(a.student.dtype, b.student.dtype);
  EXPECT_EQ(a.teacher.path, b.teacher.path);
  EXPECT_EQ(a.teacher.dtype, b.teacher.dtype);
  EXPECT_EQ(a.data.train_path, b.data.train_path);
  EXPECT_EQ(a.data.prompts_per_step, b.data.prompts_per_step);
  EXPECT_EQ(a.data.samples_per_prompt, b.data.samples_per_prompt);
  EXPECT_EQ(a.data.shuffle, b.data.shuffle);
  EXPECT_EQ(a.rollout.max_new_tokens, b.rollout.max_new_tokens);
  EXPECT_EQ(a.rollout.temperature, b.rollout.temperature);  // exact: round trips are lossless
  EXPECT_EQ(a.rollout.top_k, b.rollout.top_k);
  EXPECT_EQ(a.rollout.top_p, b.rollout.top_p);
  EXPECT_EQ(a.objective.kind, b.objective.kind);
  EXPECT_EQ(a.optim.lr, b.optim.lr);
  EXPECT_EQ(a.optim.weight_decay, b.optim.weight_decay);
  EXPECT_EQ(a.optim.beta1, b.optim.beta1);
  EXPECT_EQ(a.optim.beta2, b.optim.beta2);
  EXPECT_EQ(a.optim.eps, b.optim.eps);
  EXPECT_EQ(a.optim.grad_clip, b.optim.grad_clip);
  EXPECT_EQ(a.optim.warmup_steps, b.optim.warmup_steps);
  EXPECT_EQ(a.optim.schedule, b.optim.schedule);
  EXPECT_EQ(a.optim.min_lr_ratio, b.optim.min_lr_ratio);
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
  EXPECT_EQ(c.student.dtype, "float32");
  EXPECT_EQ(c.teacher.path, "runs/smoke/models/teacher");
  EXPECT_EQ(c.teacher.dtype, "float32");
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
                      "warmup_steps, schedule, min_lr_ratio)"}},
      {"student: {path: s, dtyp: float32}\n" + recipe().substr(19),
       {},
       {"r.yaml:1: ", "student.dtyp: unknown key (allowed: path, dtype)"}},
      {recipe("", "data: {train: d.jsonl, prompts: 3}\n"), {}, {"r.yaml:3: ", "data.prompts: unknown key"}},
      {recipe("rollout: {top_n: 3}\n"), {}, {"rollout.top_n: unknown key"}},
      {recipe("objective: {name: opd, lambda: 1}\n"), {}, {"objective.lambda: unknown key (allowed: name)"}},
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
      {recipe("objective: {name: ppo}\n"), {}, {"r.yaml:4: ", "objective.name must be one of: opd; got 'ppo'"}},
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
  EXPECT_NE(docs.find("r.yaml: expected one YAML document, found 2"), std::string::npos) << docs;
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
  EXPECT_EQ(c.student.dtype, "bfloat16");
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
  EXPECT_EQ(s.student.dtype, "float16");

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
      {recipe(), {"objective.name=ppo"}, {"--set objective.name=ppo: objective.name must be one of: opd; got 'ppo'"}},
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
  c.student = {"/m/student dir", "bfloat16"};
  c.teacher = {"true", "float16"};  // a path YAML would read as a bool if unquoted
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

  const std::string yaml = train_config_yaml(c);
  SCOPED_TRACE(yaml);
  const TrainConfig back = parse_train_config(yaml, "resolved.yaml");
  expect_same(back, c);
  EXPECT_EQ(train_config_yaml(back), yaml);

  // Every key is written, defaults included.
  for (const char* key : {"run_dir:", "seed:", "steps:", "micro_batch_size:", "log_every:",
                          "save_every:", "student:", "teacher:", "path:", "dtype:", "data:",
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

}  // namespace
}  // namespace opd::train
