#include "opd/train/trainer.h"

#include "opd/core/token_alignment.h"
#include "opd/model/pretrained.h"
#include "opd/objectives/registry.h"
#include "opd/rollout/generator.h"
#include "opd/rollout/scoring.h"
#include "opd/train/config_loader.h"
#include "opd/train/lr_schedule.h"
#include "opd/train/metrics_log.h"

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace opd::train {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

model::CausalLM load_model(const ModelSpec& spec, const std::string& key) {
  TORCH_CHECK(fs::is_directory(spec.path), key, ".path: no model directory at '", spec.path,
              "' (create one with opd-make-tiny, or point to an HF model directory)");
  return model::load_pretrained(
      spec.path, model::LoadOptions{model::dtype_from_name(spec.dtype, key + ".dtype"), at::kCPU});
}

// Distinct, reproducible generator per (seed, purpose, step).
at::Generator make_generator(uint64_t seed, uint64_t stream, int64_t step) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull ^ (stream << 32) ^ static_cast<uint64_t>(step);
  x ^= x >> 31;
  return at::make_generator<at::CPUGeneratorImpl>(x * 0xBF58476D1CE4E5B9ull);
}

rollout::GenerationConfig generation_config(const TrainConfig& c, const model::ModelConfig& m) {
  rollout::GenerationConfig g;
  g.sampling = {c.rollout.temperature, c.rollout.top_k, c.rollout.top_p};
  g.max_new_tokens = c.rollout.max_new_tokens;
  g.stop_token_ids = m.eos_token_ids;
  return g;
}

std::string format_eta(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

}  // namespace

Trainer::Trainer(TrainConfig config) : config_(std::move(config)) {
  student_ = load_model(config_.student, "student");
  teacher_ = load_model(config_.teacher, "teacher");
  for (auto& p : teacher_->parameters()) p.set_requires_grad(false);
  const auto& sc = student_->config();
  const auto& tc = teacher_->config();
  if (sc.vocab_size != tc.vocab_size) {
    spdlog::warn("student vocab_size {} != teacher vocab_size {}: both must share a tokenizer",
                 sc.vocab_size, tc.vocab_size);
  }
  dataset_ = data::PromptDataset::from_jsonl(config_.data.train_path);
  dataset_.check_vocab(std::min(sc.vocab_size, tc.vocab_size), "student/teacher");
  sampler_ = std::make_unique<data::PromptSampler>(dataset_.size(), config_.seed, config_.data.shuffle);
  objective_ = make_objective(config_.objective);
  optimizer_ = std::make_unique<AdamW>(
      student_->parameters(),
      AdamWOptions{config_.optim.beta1, config_.optim.beta2, config_.optim.eps, config_.optim.weight_decay});
}

Trainer::~Trainer() = default;

Metrics Trainer::step(int64_t step) {
  const auto t0 = Clock::now();
  Metrics m;
  // 1. Prompts and on-policy rollouts.
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i : sampler_->next(config_.data.prompts_per_step)) {
    for (int64_t r = 0; r < config_.data.samples_per_prompt; ++r) prompts.push_back(dataset_[i].ids);
  }
  auto gen = make_generator(config_.seed, /*stream=*/1, step);
  auto batch = rollout::generate(student_, prompts, generation_config(config_, student_->config()), gen);
  const double t_rollout = seconds_since(t0);

  // 2. Teacher scoring of what the student wrote.
  const auto t1 = Clock::now();
  const ObjectiveNeeds needs = objective_->needs();
  at::Tensor teacher_logprobs;
  if (needs.teacher_logprobs) {
    teacher_logprobs = rollout::score_token_logprobs(teacher_, batch, config_.micro_batch_size);
  }
  TORCH_CHECK(!needs.reference_logprobs, objective_->name(),
              ": reference-model scoring is not available in this trainer yet");
  const double t_score = seconds_since(t1);

  // 3. Forward/backward over micro-batches; the loss is normalised by the
  //    token count of the whole step (DESIGN §3), so micro-batching does not
  //    change the update.
  const auto t2 = Clock::now();
  auto loss_mask = aligned_targets(batch.loss_mask);
  const double global_tokens = loss_mask.sum().item<double>();
  TORCH_CHECK(global_tokens > 0, "step ", step, ": the rollout produced no loss tokens");
  student_->train();
  optimizer_->zero_grad();
  double loss_sum = 0.0;
  for (int64_t b = 0; b < batch.batch_size(); b += config_.micro_batch_size) {
    const int64_t e = std::min(batch.batch_size(), b + config_.micro_batch_size);
    auto mb = batch.rows(b, e);
    ObjectiveInputs in;
    in.student_logits = aligned_logits(student_->forward(mb.tokens, mb.position_ids, mb.attention_mask));
    in.targets = aligned_targets(mb.tokens);
    in.source = aligned_targets(mb.source);
    in.loss_mask = aligned_targets(mb.loss_mask);
    in.token_weight = in.loss_mask / global_tokens;
    if (teacher_logprobs.defined()) in.teacher_logprobs = teacher_logprobs.slice(0, b, e);
    auto out = objective_->compute(in);
    out.loss.backward();
    loss_sum += out.loss.item<double>();
    m.merge(out.metrics);
  }
  const double t_backward = seconds_since(t2);

  // 4. Update, unless something went non-finite.
  const auto& params = optimizer_->params();
  const double grad_norm = clip_grad_norm(params, config_.optim.grad_clip);
  const double lr = learning_rate(config_.optim, step, config_.steps);
  const bool finite = std::isfinite(loss_sum) && std::isfinite(grad_norm);
  if (finite) {
    optimizer_->step(lr);
  } else {
    spdlog::warn("step {}: non-finite loss ({}) or gradient norm ({}); update skipped", step,
                 loss_sum, grad_norm);
  }
  optimizer_->zero_grad();

  const double elapsed = seconds_since(t0);
  const double generated = batch.response_lengths.sum().item<double>();
  m.set("loss", loss_sum);
  m.set("grad_norm", grad_norm);
  m.set("lr", lr);
  m.set("skipped", finite ? 0.0 : 1.0);
  m.set("response_length", generated / double(batch.batch_size()));
  m.set("tokens_per_s", (generated + global_tokens) / elapsed);
  m.set("time_rollout_s", t_rollout);
  m.set("time_score_s", t_score);
  m.set("time_backward_s", t_backward);
  m.set("time_step_s", elapsed);
  return m;
}

Metrics Trainer::evaluate() {
  const int64_t n = std::min<int64_t>(dataset_.size(), config_.data.prompts_per_step);
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i = 0; i < n; ++i) prompts.push_back(dataset_[i].ids);
  auto gen = make_generator(config_.seed, /*stream=*/2, 0);
  student_->eval();
  auto batch = rollout::generate(student_, prompts, generation_config(config_, student_->config()), gen);
  auto s = rollout::score_token_logprobs(student_, batch, config_.micro_batch_size);
  auto tau = rollout::score_token_logprobs(teacher_, batch, config_.micro_batch_size);
  auto mask = aligned_targets(batch.loss_mask);
  const double count = mask.sum().item<double>();
  Metrics m;
  m.add("kl_k1", ((s - tau) * mask).sum().item<double>(), count);
  m.add("teacher_logprob", (tau * mask).sum().item<double>(), count);
  m.add("student_logprob", (s * mask).sum().item<double>(), count);
  m.set("response_length", batch.response_lengths.to(at::kDouble).mean().item<double>());
  return m;
}

void Trainer::save_student(const std::string& name) {
  model::SaveOptions options;
  options.copy_files_from = config_.student.path;  // tokenizer files travel with the weights
  model::save_pretrained(student_, (fs::path(config_.run_dir) / name).string(), options);
}

TrainSummary Trainer::run() {
  fs::create_directories(config_.run_dir);
  {
    std::ofstream out(fs::path(config_.run_dir) / "config.yaml");
    out << train_config_yaml(config_);
    TORCH_CHECK(out.good(), "cannot write ", config_.run_dir, "/config.yaml");
  }
  MetricsLog log((fs::path(config_.run_dir) / "metrics.jsonl").string());
  int64_t student_params = 0;
  for (const auto& p : student_->parameters()) student_params += p.numel();
  spdlog::info("opd-train: objective {} | student {} ({} params) | teacher {} | {} prompts",
               objective_->name(), config_.student.path, student_params, config_.teacher.path,
               dataset_.size());

  TrainSummary summary;
  summary.before = evaluate();
  const auto t0 = Clock::now();
  for (int64_t s = 0; s < config_.steps; ++s) {
    Metrics m = step(s);
    log.write(s, m);
    if (s == 0) summary.first_step = m;
    summary.last_step = m;
    summary.steps = s + 1;
    if ((s + 1) % config_.log_every == 0 || s + 1 == config_.steps) {
      const double eta = seconds_since(t0) / double(s + 1) * double(config_.steps - s - 1);
      spdlog::info("step {}/{} | loss {:+.4f} | kl_k1 {:.4f} | grad_norm {:.3f} | lr {:.2e} | "
                   "{:.0f} tok/s | ETA {}",
                   s + 1, config_.steps, m.value("loss"),
                   m.has("kl_k1") ? m.value("kl_k1") : 0.0, m.value("grad_norm"), m.value("lr"),
                   m.value("tokens_per_s"), format_eta(eta));
    }
    if (config_.save_every > 0 && (s + 1) % config_.save_every == 0 && s + 1 < config_.steps) {
      save_student("checkpoint-" + std::to_string(s + 1));
    }
  }
  summary.after = evaluate();
  save_student("final");
  return summary;
}

}  // namespace opd::train
