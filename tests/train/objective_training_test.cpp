// Every objective trains the smoke setting through the Trainer: a few steps,
// nothing skipped, and its headline diagnostic moves the way the objective
// promises. Plus the trainer's side of the objective interface: trajectories,
// reference model, token weights and indices, vocabulary checks.
#include "opd/core/token_alignment.h"
#include "opd/model/pretrained.h"
#include "opd/model/tiny_model.h"
#include "opd/objectives/objective_config.h"
#include "opd/rollout/generator.h"
#include "opd/train/trainer.h"
#include "support/test_support.h"
#include "train/smoke_setup.h"
#include "train/step_trajectories.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

namespace opd::train {
namespace {

using opd::testing::expect_error;
using opd::testing::ScratchDir;

// A few quick steps of the smoke setting: 8 prompts x 4 samples, 12 new
// tokens (with 4 x 2 samples the policy gradient is too noisy to move the
// near-uniform student within a few steps).
TrainConfig quick_config(const ScratchDir& dir, const ObjectiveConfig& objective, int64_t steps) {
  auto c = smoke_config(dir, steps);
  c.data.prompts_per_step = 8;
  c.data.samples_per_prompt = 4;
  c.rollout.max_new_tokens = 12;
  c.optim.lr = 5e-2;
  c.log_every = steps;
  c.objective = objective;
  return c;
}

ObjectiveConfig objective(ObjectiveKind kind) { return default_objective_config(kind); }

// Eight prompts of the smoke file, each with the same short reference
// solution, so SFT on the dataset has something learnable within a few steps.
std::string write_dataset_with_responses(const ScratchDir& dir) {
  const std::string path = dir / "with_responses.jsonl";
  std::ifstream in(OPD_SOURCE_DIR "/configs/smoke/prompts.jsonl");
  std::ofstream out(path);
  std::string line;
  for (int i = 0; i < 8 && std::getline(in, line); ++i) {
    auto j = nlohmann::json::parse(line);
    j["response_ids"] = {7, 11, 13, 17, 19, 23, 29, 1};
    out << j.dump() << '\n';
  }
  return path;
}

// The near-uniform student first spreads out, then locks onto the teacher's
// modes; when it escapes depends on the noise of its own samples. Each case's
// lr and step count were chosen so that the headline falls by a clear margin
// (last/first <= ~0.9) for seeds 1..6, not only for the seed the test runs:
// the policy-gradient objectives need lr 5e-2 to escape within 16 steps, the
// forward-KL ones are steadier at 3e-2 (5e-2 makes them oscillate).
struct ObjectiveCase {
  std::string label;
  ObjectiveConfig config;
  std::string headline;  // per-step metric that must fall
  double lr = 5e-2;
  int64_t steps = 16;
  bool dataset = false;  // train on write_dataset_with_responses
};

void PrintTo(const ObjectiveCase& c, std::ostream* os) { *os << c.label; }

std::vector<ObjectiveCase> objective_cases() {
  constexpr double kPgLr = 5e-2, kForwardLr = 3e-2;
  std::vector<ObjectiveCase> cases;
  cases.push_back({"sft_teacher", objective(ObjectiveKind::kSft), "nll", kForwardLr});
  auto sft_dataset = objective(ObjectiveKind::kSft);
  sft_dataset.sft_targets = SftTargets::kDataset;
  cases.push_back({"sft_dataset", sft_dataset, "nll", kForwardLr, 16, /*dataset=*/true});
  cases.push_back({"opd", objective(ObjectiveKind::kOpd), "kl_k1", kPgLr});
  auto opd_sequence = objective(ObjectiveKind::kOpd);
  opd_sequence.normalization = LossNormalization::kSequence;
  cases.push_back({"opd_sequence_normalization", opd_sequence, "kl_k1", kPgLr});
  cases.push_back({"gopd", objective(ObjectiveKind::kGopd), "kl_k1", kPgLr});
  auto fkl = objective(ObjectiveKind::kFkl);
  fkl.top_k = 16;
  cases.push_back({"fkl", fkl, "fkl", kForwardLr});
  auto jsd = objective(ObjectiveKind::kJsd);
  jsd.top_k = 16;
  cases.push_back({"jsd", jsd, "jsd_topk", kPgLr});
  // Selecting 20% of the tokens, or gating an FKL term, slows the escape
  // (eopd: 32 steps pass for seeds 0..7, 24 not for every one).
  cases.push_back({"entropy_opd", objective(ObjectiveKind::kEntropyOpd), "kl_k1", kPgLr, 24});
  cases.push_back({"eopd", objective(ObjectiveKind::kEopd), "kl_k1", kPgLr, 32});
  cases.push_back({"reopold", objective(ObjectiveKind::kReopold), "kl_k1", kPgLr});
  cases.push_back({"mask", objective(ObjectiveKind::kMask), "kl_k1", kPgLr});
  for (auto variant : {OutlierVariant::kFkl, OutlierVariant::kMask, OutlierVariant::kClip}) {
    auto tropd = objective(ObjectiveKind::kTropd);
    tropd.top_k = 16;
    tropd.outlier = variant;
    const std::string label = std::string("tropd_") + outlier_variant_name(variant);
    if (variant == OutlierVariant::kFkl) {
      // The FKL on outliers (most tokens at first) oscillates at higher lr.
      cases.push_back({label, tropd, "kl_k1", 2e-2, 24});
    } else if (variant == OutlierVariant::kMask) {
      // Outliers (most tokens at first) train nothing: the escape is slower and
      // noisier; 32 steps pass for seeds 0..7, 16 or 24 not for every one.
      cases.push_back({label, tropd, "kl_k1", kPgLr, 32});
    } else {
      cases.push_back({label, tropd, "kl_k1", kPgLr});
    }
  }
  cases.push_back({"trd", objective(ObjectiveKind::kTrd), "kl_forward", kForwardLr});
  cases.push_back({"fkl_full", objective(ObjectiveKind::kFklFull), "kl_forward", kForwardLr});
  cases.push_back({"rkl_full", objective(ObjectiveKind::kRklFull), "kl_reverse", kPgLr});
  auto sum = objective(ObjectiveKind::kSum);
  auto fkl_term = objective(ObjectiveKind::kFkl);
  fkl_term.top_k = 16;
  sum.terms = {{1.0, objective(ObjectiveKind::kOpd)}, {0.5, fkl_term}};
  cases.push_back({"sum_opd_fkl", sum, "opd.kl_k1", kForwardLr});
  return cases;
}

double mean(const std::vector<double>& v, size_t begin, size_t end) {
  double s = 0;
  for (size_t i = begin; i < end; ++i) s += v[i];
  return s / double(end - begin);
}

class ObjectiveTraining : public ::testing::TestWithParam<ObjectiveCase> {};

// run() as opd-train runs it (progress line, metrics.jsonl, final save);
// per-step diagnostics are noisy (new prompts every step), so the first and
// last three steps are compared as means.
TEST_P(ObjectiveTraining, HeadlineDiagnosticMovesTheExpectedWay) {
  const auto& param = GetParam();
  ScratchDir dir("opd-objective");
  auto config = quick_config(dir, param.config, param.steps);
  config.optim.lr = param.lr;
  if (param.dataset) config.data.train_path = write_dataset_with_responses(dir);
  Trainer trainer(config);
  auto summary = trainer.run();
  EXPECT_EQ(summary.steps, param.steps);
  EXPECT_TRUE(std::isfinite(summary.after.value("kl_k1")));

  std::vector<double> headline;
  std::ifstream in(dir / "run/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    ASSERT_TRUE(j.at("loss").is_number()) << line;
    ASSERT_TRUE(j.at("grad_norm").is_number()) << line;
    ASSERT_EQ(j.at("skipped").get<double>(), 0.0) << line;
    ASSERT_TRUE(j.contains(param.headline) && j.at(param.headline).is_number()) << line;
    headline.push_back(j.at(param.headline).get<double>());
  }
  ASSERT_EQ(headline.size(), static_cast<size_t>(param.steps));
  const double first = mean(headline, 0, 3);
  const double last = mean(headline, headline.size() - 3, headline.size());
  std::string series;
  for (double v : headline) series += " " + std::to_string(v);
  EXPECT_LT(last, first) << param.headline << " " << first << " -> " << last << " (steps:"
                         << series << ")";
}

INSTANTIATE_TEST_SUITE_P(EveryObjective, ObjectiveTraining, ::testing::ValuesIn(objective_cases()),
                         [](const ::testing::TestParamInfo<ObjectiveCase>& info) {
                           return info.param.label;
                         });

void expect_same_weights(Trainer& a, Trainer& b, double rtol, double atol) {
  auto wa = model::named_weights(a.student()), wb = model::named_weights(b.student());
  for (auto& [name, t] : wa) {
    EXPECT_TRUE(at::allclose(t, wb.at(name), rtol, atol))
        << name << " max diff " << (t - wb.at(name)).abs().max().item<double>();
  }
}

// token_index is global within the step: TrOPD's per-token Bernoulli draws,
// and so the update, do not depend on micro-batching. fkl_full runs the
// teacher's logits per micro-batch.
TEST(ObjectiveTrainer, MicroBatchingDoesNotChangeTheUpdate) {
  auto tropd = objective(ObjectiveKind::kTropd);
  tropd.top_k = 16;
  for (const auto& config : {tropd, objective(ObjectiveKind::kFklFull)}) {
    SCOPED_TRACE(objective_name(config.kind));
    ScratchDir a("opd-mb-a"), b("opd-mb-b");
    auto ca = quick_config(a, config, 1), cb = quick_config(b, config, 1);
    ca.micro_batch_size = 8;
    cb.micro_batch_size = 3;
    ca.optim.eps = cb.optim.eps = 1e-3;  // see Trainer.MicroBatchingDoesNotChangeTheUpdate
    Trainer ta(ca), tb(cb);
    auto ma = ta.step(0), mb = tb.step(0);
    EXPECT_NEAR(ma.value("loss"), mb.value("loss"), 1e-5 * std::abs(ma.value("loss")) + 1e-7);
    if (config.kind == ObjectiveKind::kTropd) {
      EXPECT_DOUBLE_EQ(ma.value("trust_ratio"), mb.value("trust_ratio"));
    }
    expect_same_weights(ta, tb, 1e-5, 1e-5);
  }
}

// Entropy selection ranks the step's student tokens, found before any
// backward, not one micro-batch's: entropy_opd and reopold's two-stage
// selection (entropy_rho on from switch_step) select the same tokens, and so
// make the same update, with micro-batches of 8 and of 1 row.
TEST(ObjectiveTrainer, EntropySelectionDoesNotDependOnMicroBatching) {
  auto reopold = objective(ObjectiveKind::kReopold);
  reopold.entropy_rho = 0.3;
  reopold.switch_step = 0;
  for (const auto& config : {objective(ObjectiveKind::kEntropyOpd), reopold}) {
    SCOPED_TRACE(objective_name(config.kind));
    ScratchDir a("opd-ent-a"), b("opd-ent-b");
    auto ca = quick_config(a, config, 1), cb = quick_config(b, config, 1);
    ca.micro_batch_size = 8;
    cb.micro_batch_size = 1;
    ca.optim.eps = cb.optim.eps = 1e-3;  // see Trainer.MicroBatchingDoesNotChangeTheUpdate
    Trainer ta(ca), tb(cb);
    auto ma = ta.step(0), mb = tb.step(0);
    ASSERT_TRUE(ma.has("selected_fraction"));
    EXPECT_DOUBLE_EQ(ma.value("selected_fraction"), mb.value("selected_fraction"));
    EXPECT_NEAR(ma.value("selected_fraction"), config.entropy_rho, 0.05) << "the step's top rho";
    EXPECT_NEAR(ma.value("loss"), mb.value("loss"), 1e-5 * std::abs(ma.value("loss")) + 1e-7);
    expect_same_weights(ta, tb, 1e-5, 1e-5);
  }
}

// G-OPD's reference defaults to the student's initial weights: at step 0
// r == s, so reward_correction (mean tau - r) is exactly -kl_k1 (mean s - tau);
// once the student moves, the frozen reference no longer follows it.
TEST(ObjectiveTrainer, ReferenceDefaultsToTheStudentInit) {
  ScratchDir dir("opd-gopd");
  auto config = quick_config(dir, objective(ObjectiveKind::kGopd), 4);
  ASSERT_DOUBLE_EQ(config.objective.lambda, 1.25);
  Trainer trainer(config);
  EXPECT_TRUE(trainer.needs().reference_logprobs);
  auto m0 = trainer.step(0);
  ASSERT_TRUE(m0.has("reward_correction"));
  EXPECT_NEAR(m0.value("reward_correction"), -m0.value("kl_k1"), 1e-4);
  Metrics last;
  for (int64_t s = 1; s < 4; ++s) last = trainer.step(s);
  EXPECT_EQ(last.value("skipped"), 0.0);
  EXPECT_GT(std::abs(last.value("reward_correction") + last.value("kl_k1")), 1e-3)
      << "the reference should stay at the student's initial weights";
}

// A configured reference is the model at that path: the teacher as its own
// reference gives tau - r = 0 on every token.
TEST(ObjectiveTrainer, ConfiguredReferenceIsLoaded) {
  ScratchDir dir("opd-gopd-ref");
  auto gopd = objective(ObjectiveKind::kGopd);
  gopd.reference = dir / "teacher";
  Trainer trainer(quick_config(dir, gopd, 1));
  auto m = trainer.step(0);
  EXPECT_NEAR(m.value("reward_correction"), 0.0, 1e-5);

  // In a sum, the first term that names a reference supplies it.
  ScratchDir sum_dir("opd-sum-ref");
  auto sum = objective(ObjectiveKind::kSum);
  sum.terms = {{1.0, gopd}};
  sum.terms[0].objective.reference = sum_dir / "teacher";
  Trainer sum_trainer(quick_config(sum_dir, sum, 1));
  EXPECT_NEAR(sum_trainer.step(0).value("gopd.reward_correction"), 0.0, 1e-5);
}

TEST(ObjectiveTrainer, MissingReferenceDirectoryNamesTheKey) {
  ScratchDir dir;
  auto gopd = objective(ObjectiveKind::kGopd);
  gopd.reference = dir / "no-such-reference";
  expect_error([&] { Trainer t(quick_config(dir, gopd, 1)); },
               {"objective.reference: no model directory at '", "no-such-reference'"});
  auto sum = objective(ObjectiveKind::kSum);
  sum.terms = {{1.0, objective(ObjectiveKind::kOpd)}, {1.0, gopd}};
  expect_error([&] { Trainer t(quick_config(dir, sum, 1)); },
               {"objective.terms[1].reference: no model directory at '", "no-such-reference'"});
}

TEST(ObjectiveTrainer, DatasetTargetsNeedResponseIds) {
  ScratchDir dir;
  auto sft = objective(ObjectiveKind::kSft);
  sft.sft_targets = SftTargets::kDataset;
  const std::string path = OPD_SOURCE_DIR "/configs/smoke/prompts.jsonl";
  expect_error([&] { Trainer t(quick_config(dir, sft, 1)); },
               {"objective.targets: dataset needs \"response_ids\" on every line of " + path +
                " (line 1 has none)"});
}

TEST(ObjectiveTrainer, TopKMustFitTheStudentVocabulary) {
  ScratchDir dir;
  auto fkl = objective(ObjectiveKind::kFkl);
  fkl.top_k = 65;
  expect_error([&] { Trainer t(quick_config(dir, fkl, 1)); },
               {"objective.top_k = 65 exceeds the student's vocab_size of 64"});
  auto full = objective(ObjectiveKind::kFklFull);
  full.support_k = 100;
  expect_error([&] { Trainer t(quick_config(dir, full, 1)); },
               {"objective.support_k = 100 exceeds the student's vocab_size of 64"});
  auto sum = objective(ObjectiveKind::kSum);
  sum.terms = {{1.0, objective(ObjectiveKind::kOpd)}, {1.0, fkl}};
  expect_error([&] { Trainer t(quick_config(dir, sum, 1)); }, {"objective.terms[1].top_k = 65"});
}

void save_tiny_teacher(const std::string& dir, int64_t vocab_size) {
  model::TinyModelSpec spec;
  spec.vocab_size = vocab_size;
  spec.seed = 1;
  spec.init_std = 0.1;
  spec.embed_std = 0.3;
  auto m = model::make_tiny_model(spec);
  model::save_pretrained(m, dir);
}

// Qwen pads larger models' vocabularies: a larger teacher is cut to the
// student's 64 logits; a smaller one cannot give top-k or logits over them.
TEST(ObjectiveTrainer, TeacherVocabularyLargerIsCutSmallerIsAnError) {
  ScratchDir dir;
  save_tiny_teacher(dir / "teacher80", 80);
  save_tiny_teacher(dir / "teacher48", 48);
  auto fkl = objective(ObjectiveKind::kFkl);
  fkl.top_k = 16;
  for (const auto& config : {fkl, objective(ObjectiveKind::kFklFull), objective(ObjectiveKind::kOpd)}) {
    SCOPED_TRACE(objective_name(config.kind));
    auto c = quick_config(dir, config, 1);
    c.teacher.path = dir / "teacher80";
    Trainer trainer(c);
    auto m = trainer.step(0);
    EXPECT_EQ(m.value("skipped"), 0.0);
  }
  for (const auto& config : {fkl, objective(ObjectiveKind::kTrd)}) {
    auto c = quick_config(dir, config, 1);
    c.teacher.path = dir / "teacher48";
    expect_error([&] { Trainer t(c); },
                 {"teacher's vocab_size 48 is smaller than the student's vocab_size 64"});
  }
}

// Scores need only the sampled token's log-prob (OPD's K1; SeqKD's -s), so
// vocabularies may differ, but the sampler never draws an id its scorer
// lacks: before, a student drawing ids 48..63 for a 48-id teacher (or an
// 80-id SeqKD teacher writing ids past the student's 64) failed with
// "index out of range in self" at the first such draw.
TEST(ObjectiveTrainer, RolloutsNeverDrawIdsTheScoringModelLacks) {
  ScratchDir dir;
  save_tiny_teacher(dir / "teacher80", 80);
  save_tiny_teacher(dir / "teacher48", 48);
  const std::string prompts = dir / "prompts_below_40.jsonl";  // ids every model has
  std::ofstream(prompts) << "{\"prompt_ids\": [5, 9, 30, 12]}\n{\"prompt_ids\": [39, 2, 17]}\n";
  const std::pair<ObjectiveKind, std::string> cases[] = {{ObjectiveKind::kOpd, "teacher48"},
                                                         {ObjectiveKind::kSft, "teacher80"}};
  for (const auto& [kind, teacher] : cases) {
    SCOPED_TRACE(std::string(objective_name(kind)) + " with " + teacher);
    auto c = quick_config(dir, objective(kind), 3);
    c.teacher.path = dir / teacher;
    c.data.train_path = prompts;
    c.rollout.temperature = 4.0;  // nearly uniform draws: an id past 48 (or 64) is all but certain unguarded
    c.rollout.max_new_tokens = 24;
    Trainer trainer(c);
    for (int64_t step = 0; step < 3; ++step) EXPECT_EQ(trainer.step(step).value("skipped"), 0.0);
  }
}

// Who writes the trained tokens, and how they are labelled (DESIGN §3).
TEST(ObjectiveTrainer, TrajectoriesAreLabelledBySource) {
  struct Expect {
    ObjectiveConfig config;
    TokenSource source;
    bool dataset;
  };
  auto sft_teacher = objective(ObjectiveKind::kSft);
  auto sft_dataset = objective(ObjectiveKind::kSft);
  sft_dataset.sft_targets = SftTargets::kDataset;
  const std::vector<Expect> expects = {
      {objective(ObjectiveKind::kOpd), TokenSource::kStudent, false},
      {sft_teacher, TokenSource::kTeacherPrefix, false},
      {sft_dataset, TokenSource::kTeacherPrefix, true},
      {objective(ObjectiveKind::kTrd), TokenSource::kRefined, false},
  };
  for (const auto& e : expects) {
    SCOPED_TRACE(objective_name(e.config.kind) + std::string(e.dataset ? " (dataset)" : ""));
    ScratchDir dir;
    auto c = quick_config(dir, e.config, 1);
    c.data.prompts_per_step = 4;
    c.data.samples_per_prompt = 2;
    c.data.shuffle = false;  // rows 2i, 2i+1 are dataset line i
    if (e.dataset) c.data.train_path = write_dataset_with_responses(dir);
    Metrics m;
    auto batch = StepTrajectories(c).write(0, &m).batch;
    ASSERT_EQ(batch.batch_size(), 8);
    EXPECT_TRUE(m.has("response_length"));
    auto dataset = data::PromptDataset::from_file(c.data.train_path);
    for (int64_t b = 0; b < 8; ++b) {
      const auto& line = dataset[b / 2];
      const int64_t L = batch.prompt_lengths[b].item<int64_t>();
      const int64_t R = batch.response_lengths[b].item<int64_t>();
      ASSERT_EQ(L, static_cast<int64_t>(line.ids.size()));
      ASSERT_GE(R, 1);
      for (int64_t t = 0; t < batch.seq_len(); ++t) {
        const bool response = t >= L && t < L + R;
        if (t < L) {
          EXPECT_EQ(batch.tokens[b][t].item<int64_t>(), line.ids[t]);
        }
        if (response && e.dataset) {
          EXPECT_EQ(batch.tokens[b][t].item<int64_t>(), line.response_ids[t - L]);
        }
        EXPECT_EQ(batch.source[b][t].item<int8_t>(),
                  response ? static_cast<int8_t>(e.source) : int8_t{0});
        EXPECT_EQ(batch.loss_mask[b][t].item<float>(), response ? 1.f : 0.f);
      }
    }
    if (e.config.kind == ObjectiveKind::kTrd) {
      EXPECT_TRUE(m.has("attempt_length"));
    }
  }
}

}  // namespace
}  // namespace opd::train

namespace opd::train {
namespace {

// TrOPD's guidance: the teacher writes each row's first l tokens (source 1),
// the student the rest (source 2); l follows the cosine schedule of the
// global step, and the teacher wrote exactly what it writes alone.
TEST(ObjectiveTrainer, TeacherPrefixRolloutsFollowTheSchedule) {
  ScratchDir dir("opd-prefix");
  auto c = quick_config(dir, objective(ObjectiveKind::kTropd), 4);
  c.objective.top_k = 16;
  c.rollout.max_new_tokens = 12;
  c.rollout.teacher_prefix_length = 6;
  c.rollout.teacher_prefix_anneal_steps = 4;
  c.rollout.temperature = 0;  // greedy: the prefix must be the teacher's own greedy text
  StepTrajectories trajectories(c);
  for (int64_t step : {0, 2, 4}) {
    Metrics m;
    const auto r = trajectories.write(step, &m);
    const auto& batch = r.batch;
    const int64_t expected_cap = step == 0 ? 6 : step == 2 ? 3 : 0;
    EXPECT_EQ(m.value("prefix_cap"), double(expected_cap)) << "step " << step;
    for (int64_t b = 0; b < batch.batch_size(); ++b) {
      const int64_t P = batch.prompt_lengths[b].item<int64_t>(), R = batch.response_lengths[b].item<int64_t>();
      const auto src = batch.source[b];
      int64_t prefix = 0;
      while (prefix < R && src[P + prefix].item<int8_t>() == 1) ++prefix;
      EXPECT_LE(prefix, expected_cap) << "step " << step << " row " << b;
      for (int64_t t = P + prefix; t < P + R; ++t) EXPECT_EQ(src[t].item<int8_t>(), 2) << "row " << b;
      EXPECT_EQ(batch.loss_mask[b].slice(0, P, P + R).sum().item<float>(), float(R));
      EXPECT_LE(R, 12);
    }
    if (step == 0) {
      // Greedy decoding: the prefix is the start of the teacher's own answer.
      auto teacher = model::load_pretrained(c.teacher.path);
      rollout::GenerationConfig g;
      g.sampling.temperature = 0;
      g.max_new_tokens = 6;
      g.stop_token_ids = teacher->config().eos_token_ids;
      const int64_t P0 = batch.prompt_lengths[0].item<int64_t>();
      std::vector<int64_t> prompt(batch.tokens[0].data_ptr<int64_t>(), batch.tokens[0].data_ptr<int64_t>() + P0);
      const auto alone = rollout::generate(teacher, {prompt}, g);
      const int64_t n = alone.response_lengths[0].item<int64_t>();
      EXPECT_TRUE(at::equal(batch.tokens[0].slice(0, P0, P0 + n), alone.tokens[0].slice(0, P0, P0 + n)));
    }
  }
  // Training on guided rollouts: TrOPD's prefix term sees teacher tokens.
  c.rollout.temperature = 1.0;
  Trainer again(c);
  const auto m = again.step(0);
  EXPECT_GT(m.value("tokens_teacher_prefix"), 0.0);
  EXPECT_TRUE(m.has("prefix_logprob"));
  EXPECT_TRUE(std::isfinite(m.value("loss")));
}

}  // namespace
}  // namespace opd::train
