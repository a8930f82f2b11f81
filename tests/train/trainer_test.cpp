#include "opd/model/pretrained.h"
#include "opd/model/tiny_model.h"
#include "opd/train/adamw.h"
#include "opd/train/config_loader.h"
#include "opd/train/lr_schedule.h"
#include "opd/train/run_resources.h"
#include "opd/train/trainer.h"
#include "opd/objectives/registry.h"
#include "support/test_support.h"
#include "train/smoke_setup.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <ATen/core/grad_mode.h>

#include <filesystem>
#include <fstream>

namespace opd::train {
namespace {

using opd::testing::error_message;
using opd::testing::ScratchDir;

double mean_of(const std::vector<double>& v, size_t begin, size_t end) {
  double s = 0;
  for (size_t i = begin; i < end; ++i) s += v[i];
  return s / double(end - begin);
}

// The first step of two configs gives the same loss (within loss_rtol),
// gradient norm and weights.
void expect_same_first_update(const TrainConfig& ca, const TrainConfig& cb, double loss_rtol) {
  Trainer ta(ca), tb(cb);
  auto ma = ta.step(0), mb = tb.step(0);
  EXPECT_NEAR(ma.value("loss"), mb.value("loss"), loss_rtol * std::abs(ma.value("loss")));
  EXPECT_NEAR(ma.value("grad_norm"), mb.value("grad_norm"), 1e-5 * ma.value("grad_norm"));
  auto wa = model::named_weights(ta.student()), wb = model::named_weights(tb.student());
  for (auto& [name, t] : wa) {
    EXPECT_TRUE(at::allclose(t, wb.at(name), 1e-5, 1e-6))
        << name << " max diff " << (t - wb.at(name)).abs().max().item<double>();
  }
}

TEST(Trainer, SmokeRunReverseKlFallsClearly) {
  ScratchDir dir("opd-smoke");
  Trainer trainer(smoke_config(dir, 40));
  auto summary = trainer.run();
  EXPECT_EQ(summary.steps, 40);

  std::vector<double> kl;
  std::ifstream in(dir / "run/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    ASSERT_TRUE(j.at("loss").is_number()) << line;
    EXPECT_EQ(j.at("skipped").get<double>(), 0.0) << line;
    kl.push_back(j.at("kl_k1").get<double>());
  }
  ASSERT_EQ(kl.size(), 40u);
  const double first = mean_of(kl, 0, 3), last = mean_of(kl, 37, 40);
  EXPECT_GT(first, 0.5) << "the untrained student should be far from the teacher";
  EXPECT_LT(last, 0.5 * first) << "reverse KL " << first << " -> " << last;
  EXPECT_LT(summary.after.value("kl_k1"), 0.5 * summary.before.value("kl_k1"));
  EXPECT_GT(summary.after.value("teacher_logprob"), summary.before.value("teacher_logprob"));

  // The run directory holds what the README promises.
  EXPECT_TRUE(std::filesystem::exists(dir / "run/config.yaml"));
  auto reread = load_train_config(dir / "run/config.yaml");
  EXPECT_EQ(reread.steps, 40);
  // TensorBoard: the file-version record and one event per step (the
  // framing is checked in depth by tests/core/tensorboard_writer_test.cpp).
  std::vector<std::filesystem::path> events;
  for (const auto& e : std::filesystem::directory_iterator(dir / "run/tensorboard")) events.push_back(e.path());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].filename().string().rfind("events.out.tfevents.", 0), 0u) << events[0];
  std::ifstream tb(events[0], std::ios::binary);
  int records = 0;
  for (uint64_t length = 0; tb.read(reinterpret_cast<char*>(&length), 8); ++records) {
    tb.seekg(static_cast<std::streamoff>(4 + length + 4), std::ios::cur);
  }
  EXPECT_EQ(records, 41);
  auto final_model = model::load_pretrained(dir / "run/final");
  auto trained = model::named_weights(trainer.student());
  for (auto& [name, t] : model::named_weights(final_model)) EXPECT_TRUE(at::equal(t, trained.at(name))) << name;
}

TEST(Trainer, SameSeedGivesSameWeights) {
  ScratchDir a("opd-det-a"), b("opd-det-b");
  Trainer ta(smoke_config(a, 3)), tb(smoke_config(b, 3));
  for (int64_t s = 0; s < 3; ++s) {
    ta.step(s);
    tb.step(s);
  }
  auto wa = model::named_weights(ta.student()), wb = model::named_weights(tb.student());
  for (auto& [name, t] : wa) EXPECT_TRUE(at::equal(t, wb.at(name))) << name;
}

// Splitting the step into micro-batches must not change the update (DESIGN §3).
TEST(Trainer, MicroBatchingDoesNotChangeTheUpdate) {
  ScratchDir a("opd-mb-a"), b("opd-mb-b");
  auto ca = smoke_config(a, 1), cb = smoke_config(b, 1);
  ca.micro_batch_size = 16;
  cb.micro_batch_size = 3;
  // Adam's first step is lr * g / (|g| + eps): with a tiny eps it turns
  // summation-order noise on near-zero gradients into full-size updates. A
  // large eps keeps the update smooth in g, so the weights compare tightly.
  ca.optim.eps = cb.optim.eps = 1e-3;
  expect_same_first_update(ca, cb, 1e-6);
}

// Projecting the student's logits chunk by chunk (the default) gives the
// update the whole logits give, for an objective with a top-k term (tropd)
// and with a tied lm_head (the smoke models tie it to the embedding), with
// chunks that do not divide the micro-batch's rows.
TEST(Trainer, ChunkedLogitsDoNotChangeTheUpdate) {
  const std::vector<std::vector<std::string>> objectives = {{"objective.name=opd"},
                                                            {"objective.name=tropd", "objective.top_k=16"}};
  for (const auto& overrides : objectives) {
    SCOPED_TRACE(overrides.front());
    ScratchDir a("opd-chunk-a"), b("opd-chunk-b");
    auto ca = smoke_config(a, 1, overrides), cb = smoke_config(b, 1, overrides);
    ca.logits_chunk_tokens = 0;
    cb.logits_chunk_tokens = 7;
    ca.optim.eps = cb.optim.eps = 1e-3;  // as in MicroBatchingDoesNotChangeTheUpdate
    expect_same_first_update(ca, cb, 1e-5);
  }
}

// A prompt with no room for max_new_tokens in the models' 4096 positions is
// found when the dataset loads, naming its line; `drop` leaves it out.
TEST(Trainer, OverlongPromptsAreFoundAtLoadNamingTheirLine) {
  ScratchDir dir("opd-overlong");
  std::string long_ids = "[1";
  for (int i = 1; i < 4040; ++i) long_ids += ", " + std::to_string(i % 60 + 2);
  opd::testing::write_file_bytes(dir / "prompts.jsonl", "{\"prompt_ids\": [1, 2, 3]}\n{\"prompt_ids\": " + long_ids +
                                                            "]}\n{\"prompt_ids\": [4, 5]}\n");
  auto c = smoke_config(dir, 1, {"data.train=" + (dir / "prompts.jsonl"), "rollout.max_new_tokens=64"});
  const auto needs = make_objective(c.objective)->needs();
  opd::testing::expect_error([&] { load_run_resources(c, needs, "opd"); },
                             {"prompts.jsonl:2: the prompt has 4040 tokens", "leaves room for 4032", "overlong_prompts"});
  c.data.overlong_prompts = OverlongPrompts::kDrop;
  const auto kept = load_run_resources(c, needs, "opd");
  ASSERT_EQ(kept.dataset.size(), 2);
  EXPECT_EQ(kept.dataset[1].line, 3);
}

TEST(Trainer, ActivationCheckpointingDoesNotChangeTheUpdate) {
  ScratchDir a("opd-ac-a"), b("opd-ac-b");
  auto ca = smoke_config(a, 2), cb = smoke_config(b, 2);
  cb.activation_checkpointing = true;
  Trainer ta(ca), tb(cb);
  for (int64_t s = 0; s < 2; ++s) {
    ta.step(s);
    tb.step(s);
  }
  auto wa = model::named_weights(ta.student()), wb = model::named_weights(tb.student());
  for (auto& [name, t] : wa) EXPECT_TRUE(at::allclose(t, wb.at(name), 1e-5, 1e-6)) << name;
}

// The gradient-noise diagnostic splits the step at half its prompts: the
// update is the one without it, and the two halves' cosine is 1 exactly when
// the halves hold the same rollouts (one prompt repeated, greedy decoding).
TEST(Trainer, GradientNoiseIsTheCosineBetweenTheStepsHalves) {
  ScratchDir a("opd-noise-a"), b("opd-noise-b");
  auto ca = smoke_config(a, 1), cb = smoke_config(b, 1, {"log_gradient_noise=true"});
  ca.optim.eps = cb.optim.eps = 1e-3;  // as in MicroBatchingDoesNotChangeTheUpdate
  ca.micro_batch_size = cb.micro_batch_size = 5;  // the split (row 8) falls inside a micro-batch
  expect_same_first_update(ca, cb, 1e-6);
  const auto sampled = Trainer(cb).step(0);
  ASSERT_TRUE(sampled.has("grad_split_cosine"));
  EXPECT_GT(sampled.value("grad_split_cosine"), -1.0);
  EXPECT_LT(sampled.value("grad_split_cosine"), 0.999) << "different prompts give different gradients";
  EXPECT_FALSE(Trainer(ca).step(0).has("grad_split_cosine"));

  ScratchDir c("opd-noise-same");
  {
    std::ofstream same(c / "same.jsonl");
    for (int i = 0; i < 8; ++i) same << "{\"prompt_ids\": [50, 58, 28, 4, 18]}\n";
  }
  const auto twins = Trainer(smoke_config(c, 1, {"log_gradient_noise=true", "rollout.temperature=0",
                                                 "data.train=" + (c / "same.jsonl")}))
                         .step(0);
  EXPECT_NEAR(twins.value("grad_split_cosine"), 1.0, 1e-5);

  ScratchDir d("opd-noise-one");
  const auto one = error_message([&] { Trainer(smoke_config(d, 1, {"log_gradient_noise=true", "data.prompts_per_step=1"})); });
  EXPECT_NE(one.find("log_gradient_noise: the gradient's two halves need at least 2 prompts per rank and step; "
                     "data.prompts_per_step is 1"),
            std::string::npos)
      << one;
}

TEST(Trainer, MissingModelDirectoryNamesTheKey) {
  ScratchDir dir;
  auto config = smoke_config(dir, 1);
  config.teacher.path = dir / "no-such-teacher";
  const auto msg = error_message([&] { Trainer t(config); });
  EXPECT_NE(msg.find("teacher.path: no model directory at"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no-such-teacher"), std::string::npos) << msg;
}

// bf16 weights train through an fp32 master copy: 64 updates of 1e-4, each
// far below bf16's half-ulp at 1.0 (0.004), still add up, exactly as in fp32.
TEST(AdamW, Bf16ParametersFollowTheFp32Update) {
  auto fp32 = at::full({3, 4}, 1.0f).set_requires_grad(true);
  auto bf16 = at::full({3, 4}, 1.0f, at::kBFloat16).set_requires_grad(true);
  AdamW a({fp32}, AdamWOptions{}), b({bf16}, AdamWOptions{});
  const auto grad = at::linspace(0.5, 1.5, 12).view({3, 4});
  for (int step = 0; step < 64; ++step) {
    fp32.mutable_grad() = grad.clone();
    bf16.mutable_grad() = grad.to(at::kBFloat16);
    a.step(1e-4);
    b.step(1e-4);
  }
  const auto master = b.state().at("master.0");
  EXPECT_TRUE(at::equal(master, fp32.detach())) << "the master copy is the fp32 run";
  EXPECT_TRUE(at::equal(bf16.detach(), master.to(at::kBFloat16))) << "the weight is its rounding";
  EXPECT_LT(bf16.detach().to(at::kFloat).max().item<float>(), 1.0f) << "pure bf16 updates would leave 1.0";
  EXPECT_EQ(a.state().count("master.0"), 0u) << "fp32 parameters need no copy";

  // The master copy resumes with the moments.
  auto again = at::full({3, 4}, 1.0f, at::kBFloat16).set_requires_grad(true);
  AdamW c({again}, AdamWOptions{});
  c.load_state(b.state());
  EXPECT_TRUE(at::equal(again.detach(), bf16.detach()));
  again.mutable_grad() = grad.to(at::kBFloat16);
  bf16.mutable_grad() = grad.to(at::kBFloat16);
  b.step(1e-4);
  c.step(1e-4);
  EXPECT_TRUE(at::equal(c.state().at("master.0"), b.state().at("master.0")));
}

TEST(AdamW, MatchesTheReferenceUpdate) {
  auto p = at::tensor({1.0f, -2.0f, 0.5f, 3.0f}).view({2, 2}).set_requires_grad(true);
  auto bias = at::tensor({0.25f}).set_requires_grad(true);
  AdamW opt({p, bias}, AdamWOptions{0.9, 0.99, 1e-8, 0.1});
  auto p0 = p.detach().clone(), b0 = bias.detach().clone();
  std::vector<at::Tensor> grads = {at::tensor({0.1f, 0.2f, -0.3f, 0.4f}).view({2, 2}), at::tensor({-0.5f, 0.1f, 0.2f, 0.0f}).view({2, 2})};
  auto m = at::zeros_like(p0), v = at::zeros_like(p0), ref = p0.clone();
  for (int step = 1; step <= 2; ++step) {
    const auto& g = grads[step - 1];
    p.mutable_grad() = g.clone();
    bias.mutable_grad() = at::tensor({1.0f});
    opt.step(0.01);
    m = 0.9 * m + 0.1 * g;
    v = 0.99 * v + 0.01 * g * g;
    auto mhat = m / (1 - std::pow(0.9, step)), vhat = v / (1 - std::pow(0.99, step));
    ref = ref - 0.01 * 0.1 * ref - 0.01 * mhat / (vhat.sqrt() + 1e-8);
  }
  EXPECT_TRUE(at::allclose(p.detach(), ref, 1e-6, 1e-7)) << p << ref;
  // Biases (1-D) get no weight decay: two steps of +-lr * 1 exactly.
  EXPECT_NEAR(bias.item<float>(), b0.item<float>() - 0.02f, 1e-6);
}

TEST(AdamW, ClipScalesToMaxNorm) {
  auto p = at::zeros({3}).set_requires_grad(true);
  p.mutable_grad() = at::tensor({3.0f, 4.0f, 0.0f});
  EXPECT_NEAR(clip_grad_norm({p}, 1.0), 5.0, 1e-6);
  EXPECT_NEAR(global_grad_norm({p}), 1.0, 1e-5);
}

TEST(LrSchedule, WarmupThenCosineToFloor) {
  OptimConfig o;
  o.lr = 1.0;
  o.warmup_steps = 4;
  o.schedule = LrSchedule::kCosine;
  o.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate(o, 0, 14), 0.25);
  EXPECT_DOUBLE_EQ(learning_rate(o, 3, 14), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate(o, 4, 14), 1.0);
  EXPECT_NEAR(learning_rate(o, 9, 14), 0.55, 1e-12);  // halfway: floor + half the span
  EXPECT_NEAR(learning_rate(o, 14, 14), 0.1, 1e-12);
  o.schedule = LrSchedule::kConstant;
  EXPECT_DOUBLE_EQ(learning_rate(o, 12, 14), 1.0);
}

TEST(LrSchedule, WarmupRatioIsAFractionOfTheRun) {
  OptimConfig o;
  o.lr = 1.0;
  o.warmup_ratio = 0.25;  // ceil(0.25 * 14) = 4 steps, as warmup_steps: 4
  o.schedule = LrSchedule::kCosine;
  o.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate(o, 0, 14), 0.25);
  EXPECT_NEAR(learning_rate(o, 9, 14), 0.55, 1e-12);
  o.warmup_steps = 2;  // steps win over the ratio
  EXPECT_DOUBLE_EQ(learning_rate(o, 0, 14), 0.5);
}

}  // namespace
}  // namespace opd::train
