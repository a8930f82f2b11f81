#include "opd/train/trainer.h"

#include "opd/core/tensorboard_writer.h"
#include "opd/core/token_alignment.h"
#include "opd/dist/communicator.h"
#include "opd/dist/gradient_sync.h"
#include "opd/model/lora.h"
#include "opd/model/pretrained.h"
#include "opd/model/safetensors.h"
#include "opd/objectives/registry.h"
#include "opd/rollout/generator.h"
#include "opd/rollout/prefix_schedule.h"
#include "opd/rollout/scoring.h"
#include "opd/rollout/scoring_context.h"
#include "opd/rollout/sequence_packing.h"
#include "opd/train/checkpoint.h"
#include "opd/train/config_loader.h"
#include "opd/train/lr_schedule.h"
#include "opd/train/metrics_log.h"
#include "opd/train/prompt_formats.h"
#include "opd/train/stop_signal.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <utility>

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
      spec.path, model::LoadOptions{model::scalar_type(spec.dtype), at::kCPU});
}

// Distinct, reproducible sampling seed per (seed, purpose, step).
uint64_t draw_seed(uint64_t seed, uint64_t stream, int64_t step) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull ^ (stream << 32) ^ static_cast<uint64_t>(step);
  x ^= x >> 31;
  return x * 0xBF58476D1CE4E5B9ull;
}

// Generation settings for a model: the recipe's sampling, stopping at the
// model's EOS ids and at its chat template's end-of-turn tokens.
rollout::GenerationConfig generation_config(const TrainConfig& c, const model::ModelConfig& m,
                                            const data::PromptFormat& format) {
  rollout::GenerationConfig g;
  g.sampling = {c.rollout.temperature, c.rollout.top_k, c.rollout.top_p, c.rollout.min_p};
  g.max_new_tokens = c.rollout.max_new_tokens;
  g.stop_token_ids = stop_token_ids(m, format);
  return g;
}

// A LoRA checkpoint's adapters, beside the merged HF weights.
const char* const kAdapterFile = "adapter.safetensors";

void freeze(model::CausalLM& model) {
  for (auto& p : model->parameters()) p.set_requires_grad(false);
  model->eval();
}

bool accepts_key(ObjectiveKind kind, const std::string& key) {
  const auto& keys = objective_option_keys(kind);
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

// top_k and support_k select among the student's vocabulary, in every term of a sum.
void check_k_fits(const ObjectiveConfig& c, const std::string& where, int64_t vocab) {
  if (accepts_key(c.kind, "top_k")) {
    TORCH_CHECK(c.top_k <= vocab, where, ".top_k = ", c.top_k,
                " exceeds the student's vocab_size of ", vocab);
  }
  if (accepts_key(c.kind, "support_k")) {
    TORCH_CHECK(c.support_k <= vocab, where, ".support_k = ", c.support_k,
                " exceeds the student's vocab_size of ", vocab);
  }
  for (size_t i = 0; i < c.terms.size(); ++i) {
    check_k_fits(c.terms[i].objective, where + ".terms[" + std::to_string(i) + "]", vocab);
  }
}

// The configured reference model and its YAML key: objective.reference, or
// the first term of a sum that sets one; an empty path when none does.
std::pair<std::string, std::string> configured_reference(const ObjectiveConfig& c) {
  if (!c.reference.empty()) return {c.reference, "objective.reference"};
  for (size_t i = 0; i < c.terms.size(); ++i) {
    const auto& path = c.terms[i].objective.reference;
    if (!path.empty()) return {path, "objective.terms[" + std::to_string(i) + "].reference"};
  }
  return {"", "objective.reference"};
}

// The progress line's reverse-KL estimate: "kl_k1", else a weighted sum's
// "<term>.kl_k1" (every term measures it over the same student tokens, so
// any one will do); objectives that report none print none.
std::optional<std::pair<std::string, double>> headline_kl(const Metrics& m) {
  if (m.has("kl_k1")) return std::make_pair(std::string("kl_k1"), m.value("kl_k1"));
  const std::string suffix = ".kl_k1";
  for (const auto& entry : m.entries()) {
    const std::string& name = entry.first;
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return std::make_pair(name, m.value(name));
    }
  }
  return std::nullopt;
}

std::string format_eta(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

}  // namespace

at::Tensor loss_token_weights(const at::Tensor& loss_mask, LossNormalization normalization,
                              const std::function<double(double)>& sum_over_ranks) {
  TORCH_CHECK(loss_mask.dim() == 2,
              "loss_token_weights: expected an aligned loss mask [B, T-1], got ",
              loss_mask.sizes());
  const auto global = [&](double v) { return sum_over_ranks ? sum_over_ranks(v) : v; };
  const double total = global(loss_mask.sum().item<double>());
  TORCH_CHECK(total > 0, "loss_token_weights: the step holds no loss tokens");
  switch (normalization) {
    case LossNormalization::kToken: return loss_mask / total;
    case LossNormalization::kSequence: {
      auto per_row = loss_mask.sum(1, /*keepdim=*/true);  // [B, 1]
      const double rows = global((per_row > 0).sum().item<double>());
      // Rows without loss tokens keep weight 0 (clamp only avoids 0/0).
      return loss_mask / (per_row.clamp_min(1.0) * rows);
    }
  }
  TORCH_INTERNAL_ASSERT(false, "unknown LossNormalization ", static_cast<int>(normalization));
}

Trainer::Trainer(TrainConfig config, std::shared_ptr<dist::Communicator> comm)
    : config_(std::move(config)), comm_(std::move(comm)) {
  if (comm_) {
    rank_ = comm_->rank();
    world_ = comm_->world_size();
    TORCH_CHECK(config_.data.prompts_per_step % world_ == 0, "data.prompts_per_step: ",
                config_.data.prompts_per_step, " prompts do not split evenly over ", world_, " ranks");
  }
  objective_ = make_objective(config_.objective);  // validates the objective block
  needs_ = objective_->needs();
  student_ = load_model(config_.student, "student");
  if (config_.lora.rank > 0) add_student_lora();
  student_->model->checkpoint_layers = config_.activation_checkpointing;
  student_format_ = load_prompt_format(config_.student, config_.data, "student");
  load_refinement();
  load_teachers();
  check_vocabularies();
  const auto teacher_formats = [this](const std::string& domain) -> const data::PromptFormat* {
    const int64_t t = teachers_.index_of(teacher_key(config_, domain));
    return t < 0 ? nullptr : &teachers_[t].format;
  };
  dataset_ = data::PromptDataset::from_file(config_.data.train_path, &student_format_, teacher_formats);
  int64_t vocab = student_->config().vocab_size;
  for (int64_t t = 0; t < teachers_.size(); ++t) vocab = std::min(vocab, teachers_[t].model->config().vocab_size);
  dataset_.check_vocab(vocab, teachers_.size() > 1 ? "student/teachers" : "student/teacher");
  check_dataset_targets();
  for (int64_t i = 0; i < dataset_.size(); ++i) {
    const auto& p = dataset_[i];
    const int64_t t = teachers_.index_of(teacher_key(config_, p.domain));
    TORCH_CHECK(t >= 0, config_.data.train_path, ":", p.line, ": domain '", p.domain,
                "' has no teacher: add teachers.", p.domain.empty() ? "<domain>" : p.domain,
                " or a default teacher (have: ", teachers_.describe(), ")");
    teacher_of_.push_back(t);
    if (!refinement_) continue;
    TORCH_CHECK(!p.messages.empty(), "rollout.refinement_template: needs text prompts, and ", config_.data.train_path,
                ":", p.line, " holds ids");
    TORCH_CHECK(!opsd_ || !p.solution.empty(), "rollout.refiner: student (OPSD) needs a 'solution' on every line; ",
                config_.data.train_path, ":", p.line, " has none");
  }
  if (needs_.reference_logprobs) load_reference();
  sampler_ = std::make_unique<data::PromptSampler>(dataset_.size(), config_.seed, config_.data.shuffle);
  if (comm_) {  // every rank starts from rank 0's weights
    std::vector<at::Tensor> weights;
    for (const auto& p : student_->parameters()) weights.push_back(p);
    comm_->broadcast(weights, 0, "initial weights");
  }
  for (const auto& p : student_->parameters()) {
    if (p.requires_grad()) trainable_.push_back(p);
  }
  std::vector<at::Tensor> updated = trainable_;
  if (config_.optim.zero_stage == 1 && world_ > 1) {
    // Balance the state: largest tensors first, each to the least loaded rank.
    std::vector<size_t> order(trainable_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return trainable_[a].numel() > trainable_[b].numel(); });
    std::vector<int64_t> load(static_cast<size_t>(world_), 0);
    owner_.assign(trainable_.size(), 0);
    for (size_t i : order) {
      const auto r = std::min_element(load.begin(), load.end()) - load.begin();
      owner_[i] = r;
      load[static_cast<size_t>(r)] += trainable_[i].numel();
    }
    updated.clear();
    for (size_t i = 0; i < trainable_.size(); ++i) {
      if (owner_[i] == rank_) updated.push_back(trainable_[i]);
    }
  }
  if (comm_ && world_ > 1) {
    grad_sync_ = std::make_unique<dist::GradientSync>(comm_, trainable_,
                                                      static_cast<int64_t>(config_.dist_bucket_mb * (1 << 20)));
  }
  optimizer_ = std::make_unique<AdamW>(
      updated,
      AdamWOptions{config_.optim.beta1, config_.optim.beta2, config_.optim.eps, config_.optim.weight_decay});
}

Trainer::~Trainer() = default;

void Trainer::check_vocabularies() const {
  const int64_t student_vocab = student_->config().vocab_size;
  // Qwen pads the vocabulary of larger models: a larger teacher is cut to the
  // student's vocabulary, but a smaller one cannot give a distribution over it.
  const bool needs_distribution = needs_.teacher_topk > 0 || needs_.teacher_logits;
  for (int64_t t = 0; t < teachers_.size(); ++t) {
    const int64_t teacher_vocab = teachers_[t].model->config().vocab_size;
    TORCH_CHECK(teacher_vocab >= student_vocab || !needs_distribution, "objective ", objective_->name(),
                " needs the teacher's ", needs_.teacher_logits ? "logits" : "top-k",
                " over the student's vocabulary, but ", teachers_[t].key, "'s vocab_size ", teacher_vocab,
                " is smaller than the student's vocab_size ", student_vocab);
  }
  check_k_fits(config_.objective, "objective", student_vocab);
}

void Trainer::load_teachers() {
  if (opsd_) {
    // The student's initial weights, frozen, are the teacher and the refiner;
    // they read problems as the student does (plus the solution).
    Teacher t{"teacher", config_.student.path, load_model(config_.student, "student"), student_format_};
    freeze(t.model);
    teachers_.add(std::move(t));
    spdlog::info("OPSD: the teacher is the student's initial weights with the reference solution in context");
    return;
  }
  auto formats = load_teacher_formats(config_);
  auto add = [&](const std::string& key, const ModelSpec& spec) {
    Teacher t{key, spec.path, load_model(spec, key), std::move(formats.at(key))};
    freeze(t.model);
    const int64_t sv = student_->config().vocab_size, tv = t.model->config().vocab_size;
    if (sv < tv) {
      spdlog::info("{} vocab_size {} > student vocab_size {}: its logits are cut to the student's vocabulary "
                   "(both must share a tokenizer)", key, tv, sv);
    } else if (sv > tv) {
      spdlog::warn("student vocab_size {} > {} vocab_size {}: both must share a tokenizer, and the student must "
                   "not sample ids the teacher lacks", sv, key, tv);
    }
    for (const auto& d : format_disagreements(student_format_, student_->config().eos_token_ids, t.format,
                                              t.model->config().eos_token_ids)) {
      spdlog::warn("student and {} tokenizers disagree: {}; the teacher's scores of the student's tokens may be "
                   "meaningless", key, d);
    }
    teachers_.add(std::move(t));
  };
  if (!config_.teacher.path.empty()) add("teacher", config_.teacher);
  for (const auto& [domain, spec] : config_.teachers) add("teachers." + domain, spec);
}

void Trainer::load_refinement() {
  const auto& r = config_.rollout;
  if (needs_.trajectory != Trajectory::kRefined) return;
  if (!r.refinement_template.empty()) {
    try {
      refinement_ = data::find_refinement_template(r.refinement_template);
    } catch (const std::exception& e) {
      TORCH_CHECK(false, "rollout.refinement_template: ", e.what());
    }
  }
  opsd_ = r.refiner == Refiner::kStudent;
  TORCH_CHECK(!opsd_ || refinement_, "rollout.refiner: student (OPSD) needs rollout.refinement_template, which puts "
              "the reference solution in the refiner's and the teacher side's context");
}

void Trainer::check_dataset_targets() const {
  if (needs_.trajectory != Trajectory::kDataset) return;
  const int64_t max_positions = student_->config().max_position_embeddings;
  for (int64_t i = 0; i < dataset_.size(); ++i) {
    const auto& p = dataset_[i];
    TORCH_CHECK(!p.response_ids.empty(), "objective.targets: dataset needs \"response_ids\" on "
                "every line of ", config_.data.train_path, " (line ", p.line, " has none)");
    const int64_t length = static_cast<int64_t>(p.ids.size() + p.response_ids.size());
    TORCH_CHECK(length <= max_positions, config_.data.train_path, ":", p.line,
                ": prompt + response (", length,
                " tokens) exceeds the student's max_position_embeddings ", max_positions);
  }
}

void Trainer::load_reference() {
  auto [path, key] = configured_reference(config_.objective);
  // G-OPD's default reference is the student's initialisation: its weights as
  // loaded now, before any step.
  const bool student_init = path.empty();
  if (student_init) path = config_.student.path;
  TORCH_CHECK(fs::is_directory(path), key, ": no model directory at '", path, "'");
  const auto dtype = model::scalar_type(config_.student.dtype);
  reference_ = model::load_pretrained(path, model::LoadOptions{dtype, at::kCPU});
  freeze(reference_);
  const int64_t student_vocab = student_->config().vocab_size;
  TORCH_CHECK(reference_->config().vocab_size >= student_vocab, key, ": the reference model at '",
              path, "' has vocab_size ", reference_->config().vocab_size,
              ", smaller than the student's ", student_vocab);
  spdlog::info("reference model: {}{}", path,
               student_init ? " (the student's initial weights)" : "");
}

Trainer::StepRollout Trainer::rollout(int64_t step, Metrics* metrics) {
  std::vector<int64_t> rows;  // dataset index of each batch row
  // This rank's slice of the step's prompts (all of them on one process).
  for (int64_t i : sampler_->next_shard(config_.data.prompts_per_step, rank_, world_)) {
    for (int64_t r = 0; r < config_.data.samples_per_prompt; ++r) rows.push_back(i);
  }
  const int64_t row0 = first_row();
  StepRollout out;
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i : rows) {
    prompts.push_back(dataset_[i].ids);
    out.teacher_prompts.push_back(dataset_[i].teacher_prompt());
    out.teacher_reads_differently = out.teacher_reads_differently || !dataset_[i].teacher_ids.empty();
    out.row_teacher.push_back(teacher_of_[static_cast<size_t>(i)]);
  }
  // Draws are keyed by the row's place in the global batch: any world size
  // samples the same tokens for it.
  auto student_generation = generation_config(config_, student_->config(), student_format_);
  student_generation.seed = draw_seed(config_.seed, /*stream=*/1, step);
  student_generation.first_row = row0;
  auto teacher_generation = [&](const Teacher& t) {
    auto g = generation_config(config_, t.model->config(), t.format);
    g.seed = draw_seed(config_.seed, /*stream=*/3, step);
    g.first_row = row0;
    return g;
  };
  student_->eval();

  RolloutBatch& batch = out.batch;
  double generated = 0;
  switch (needs_.trajectory) {
    case Trajectory::kStudent:
      batch = config_.rollout.teacher_prefix_length > 0
                  ? guided_rollout(step, prompts, out, metrics)
                  : rollout::generate(student_, prompts, student_generation);
      generated = batch.response_lengths.sum().item<double>();
      break;
    case Trajectory::kTeacher: {  // SeqKD: the teacher's samples are the off-policy targets
      const auto written = teachers_.generate(out.teacher_prompts, out.row_teacher, teacher_generation);
      generated = written.tokens();
      batch = rollout::pack_sequences(prompts, written.ids, TokenSource::kTeacherPrefix);
      break;
    }
    case Trajectory::kDataset: {
      std::vector<std::vector<int64_t>> responses;
      for (int64_t i : rows) responses.push_back(dataset_[i].response_ids);
      batch = rollout::pack_sequences(prompts, responses, TokenSource::kTeacherPrefix);
      break;
    }
    case Trajectory::kRefined: {
      // TRD: stage 1 the student attempts; stage 2 the refiner (the teacher,
      // or in OPSD the frozen student reading the reference solution) rewrites
      // the attempt from the refinement prompt, and the student trains on
      // its own prompt + the refined response.
      auto attempt = rollout::generate(student_, prompts, student_generation);
      const auto attempts = rollout::response_ids(attempt);
      std::vector<std::vector<int64_t>> refinement_prompts;
      for (size_t b = 0; b < prompts.size(); ++b) {
        if (!refinement_) {  // no template: the teacher's prompt + the attempt's ids
          refinement_prompts.push_back(out.teacher_prompts[b]);
          refinement_prompts.back().insert(refinement_prompts.back().end(), attempts[b].begin(), attempts[b].end());
          continue;
        }
        const auto& p = dataset_[rows[b]];
        auto messages = p.messages;
        auto& question = messages.back();
        const std::string attempt_text = student_format_.tokenizer->decode(attempts[b], /*skip_special=*/true);
        const std::string problem = question.content;
        question.content = refinement_->refinement_message(problem, attempt_text, opsd_ ? p.solution : "");
        const auto& format = teachers_[out.row_teacher[b]].format;
        refinement_prompts.push_back(format.prompt_ids(messages));
        if (opsd_) {  // the teacher side reads the problem with the solution
          question.content = refinement_->privileged_problem(problem, p.solution);
          out.teacher_prompts[b] = format.prompt_ids(messages);
          out.teacher_reads_differently = true;
        }
      }
      const auto refined = teachers_.generate(refinement_prompts, out.row_teacher, teacher_generation);
      batch = rollout::pack_parts(prompts, {{refined.ids, TokenSource::kRefined, refined.logprobs}});
      const double attempted = attempt.response_lengths.sum().item<double>();
      generated = attempted + refined.tokens();
      if (metrics) metrics->set("attempt_length", attempted / double(attempt.batch_size()));
      break;
    }
  }
  if (metrics) {
    metrics->set("response_length",
                 batch.response_lengths.sum().item<double>() / double(batch.batch_size()));
    metrics->add_total("generated_tokens", generated);
  }
  return out;
}

RolloutBatch Trainer::guided_rollout(int64_t step, const std::vector<std::vector<int64_t>>& prompts,
                                     const StepRollout& rows, Metrics* metrics) {
  rollout::PrefixSchedule schedule;
  schedule.max_length = config_.rollout.teacher_prefix_length;
  schedule.anneal_steps =
      config_.rollout.teacher_prefix_anneal_steps > 0 ? config_.rollout.teacher_prefix_anneal_steps : config_.steps;
  schedule.uniform = config_.rollout.teacher_prefix_sampling == TeacherPrefixSampling::kUniform;
  const int64_t B = static_cast<int64_t>(prompts.size()), row0 = first_row();
  // The global batch's lengths, this rank's slice of them.
  const auto global_lengths = schedule.lengths(step, B * world_, draw_seed(config_.seed, /*stream=*/4, step));
  const std::vector<int64_t> lengths(global_lengths.begin() + row0, global_lengths.begin() + row0 + B);
  auto student_generation = generation_config(config_, student_->config(), student_format_);
  student_generation.seed = draw_seed(config_.seed, /*stream=*/1, step);
  student_generation.first_row = row0;
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  if (metrics) {
    metrics->set("prefix_cap", double(schedule.cap(step)));
  }
  if (longest == 0) {
    if (metrics) metrics->set("prefix_length", 0.0);
    return rollout::generate(student_, prompts, student_generation);
  }
  // 1. Each row's teacher writes its prefix, behind its own prompt.
  const auto written = teachers_.generate(rows.teacher_prompts, rows.row_teacher, [&](const Teacher& t) {
    auto g = generation_config(config_, t.model->config(), t.format);
    g.seed = draw_seed(config_.seed, /*stream=*/5, step);
    g.first_row = row0;
    g.max_new_tokens = longest;
    g.row_max_new_tokens = lengths;
    return g;
  });
  // 2. The student continues each row after the prefix, unless the teacher
  //    already ended it.
  std::vector<std::vector<int64_t>> continued(prompts);
  std::vector<int64_t> caps(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = written.ids[b];
    continued[b].insert(continued[b].end(), p.begin(), p.end());
    caps[b] = written.ended[b] ? 0 : config_.rollout.max_new_tokens - static_cast<int64_t>(p.size());
  }
  student_generation.row_max_new_tokens = caps;
  const auto continuation = rollout::generate(student_, continued, student_generation);
  if (metrics) metrics->set("prefix_length", written.tokens() / double(B));
  return rollout::pack_parts(prompts, {{written.ids, TokenSource::kTeacherPrefix, written.logprobs},
                                       {rollout::response_ids(continuation), TokenSource::kStudent,
                                        rollout::response_logprobs(continuation)}});
}

Metrics Trainer::step(int64_t step) {
  const auto t0 = Clock::now();
  Metrics m;
  // 1. The trajectories the objective trains on.
  const auto step_rollout = rollout(step, &m);
  const auto& batch = step_rollout.batch;
  const double t_rollout = seconds_since(t0);

  // 2. Scoring: one teacher pass for tau / top-k / entropy, and the reference
  //    model's r. When the objective wants the teacher's logits, the teacher
  //    runs per training micro-batch instead (step 3), and tau / top-k /
  //    entropy come from those same logits rather than a second pass.
  const auto t1 = Clock::now();
  const int64_t mbs = config_.micro_batch_size;
  const int64_t student_vocab = student_->config().vocab_size;
  rollout::ScoreRequest teacher_request;
  teacher_request.logprobs = needs_.teacher_logprobs;
  teacher_request.topk = needs_.teacher_topk;
  teacher_request.entropy = needs_.teacher_entropy;
  teacher_request.vocab_size = student_vocab;  // each teacher cuts to its own when smaller
  const bool teacher_scored =
      teacher_request.logprobs || teacher_request.topk > 0 || teacher_request.entropy;
  // Each row's teacher reads it behind its own prompt when that differs.
  const auto* teacher_contexts = step_rollout.teacher_reads_differently ? &step_rollout.teacher_prompts : nullptr;
  rollout::TokenScores teacher_scores;
  if (teacher_scored && !needs_.teacher_logits) {
    teacher_scores = teachers_.score(batch, step_rollout.row_teacher, teacher_contexts, teacher_request, mbs);
  }
  at::Tensor reference_logprobs;
  if (needs_.reference_logprobs) {
    reference_logprobs = rollout::score_token_logprobs(reference_, batch, mbs, student_vocab);
  }
  const double t_score = seconds_since(t1);

  // 3. Forward/backward over micro-batches. Token weights and indices are
  //    fixed for the whole step first (DESIGN §3), so micro-batching changes
  //    neither the normalisation nor the per-token random draws.
  const auto t2 = Clock::now();
  auto loss_mask = aligned_targets(batch.loss_mask);
  const auto sum_over_ranks = [this](double v) { return comm_ ? comm_->sum(v, "loss token count") : v; };
  const double global_tokens = sum_over_ranks(loss_mask.sum().item<double>());
  TORCH_CHECK(global_tokens > 0, "step ", step, ": the rollout produced no loss tokens");
  const auto token_weight = loss_token_weights(loss_mask, config_.objective.normalization, sum_over_ranks);
  const int64_t B = batch.batch_size(), positions = batch.seq_len() - 1;
  // A token's draws (trust masks) are keyed by (global row, position): the
  // same whatever the padding, the micro-batches or the world size.
  const auto token_index = (at::arange(first_row(), first_row() + B, at::kLong) * kRowStride).unsqueeze(1) +
                           at::arange(positions, at::kLong).unsqueeze(0);
  const auto device = student_->device();
  student_->train();
  if (config_.lora.dropout > 0) {  // adapter dropout draws from the global generator: key it by step
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(draw_seed(config_.seed, /*stream=*/8, step));
  }
  zero_grad();
  double loss_sum = 0.0;
  double t_teacher_logits = 0.0;
  for (int64_t b = 0; b < B; b += mbs) {
    const int64_t e = std::min(B, b + mbs);
    auto rows = [&](const at::Tensor& t) { return t.defined() ? t.slice(0, b, e).to(device) : t; };
    auto mb = batch.rows(b, e);
    ObjectiveInputs in;
    in.student_logits = rollout::aligned_model_logits(student_, mb);
    in.targets = rows(aligned_targets(batch.tokens));
    in.source = rows(aligned_targets(batch.source));
    in.loss_mask = rows(loss_mask);
    in.token_weight = rows(token_weight);
    in.token_index = rows(token_index);
    in.step = step;
    in.seed = config_.seed;
    if (needs_.teacher_logits) {
      const auto tt = Clock::now();
      at::NoGradGuard no_grad;
      const std::vector<int64_t> mb_teacher(step_rollout.row_teacher.begin() + b, step_rollout.row_teacher.begin() + e);
      std::vector<std::vector<int64_t>> mb_contexts;
      if (teacher_contexts) mb_contexts.assign(teacher_contexts->begin() + b, teacher_contexts->begin() + e);
      in.teacher_logits =
          teachers_.aligned_logits(mb, mb_teacher, teacher_contexts ? &mb_contexts : nullptr, student_vocab).to(device);
      if (teacher_scored) {
        teacher_scores = rollout::score_logits(in.teacher_logits, in.targets, teacher_request);
      }
      t_teacher_logits += seconds_since(tt);
      in.teacher_logprobs = teacher_scores.logprobs;
      in.teacher_topk_ids = teacher_scores.topk_ids;
      in.teacher_topk_logp = teacher_scores.topk_logp;
      in.teacher_entropy = teacher_scores.entropy;
    } else {
      in.teacher_logprobs = rows(teacher_scores.logprobs);
      in.teacher_topk_ids = rows(teacher_scores.topk_ids);
      in.teacher_topk_logp = rows(teacher_scores.topk_logp);
      in.teacher_entropy = rows(teacher_scores.entropy);
    }
    in.reference_logprobs = rows(reference_logprobs);
    auto out = objective_->compute(in);
    if (step == poisoned_step_) out.loss = out.loss * std::numeric_limits<double>::quiet_NaN();
    if (grad_sync_ && e == B) grad_sync_->arm();  // the last micro-batch: buckets start as backward fills them
    out.loss.backward();
    loss_sum += out.loss.item<double>();
    m.merge(out.metrics);
  }
  const double t_backward = seconds_since(t2) - t_teacher_logits;

  // 4. Sum over ranks (the token weights are already global), then update
  //    unless something went non-finite.
  const auto& params = trainable_;
  const auto t3 = Clock::now();
  if (comm_) {
    if (grad_sync_) m.set("comm_buckets_overlapped", double(grad_sync_->finish()));
    loss_sum = comm_->sum(loss_sum, "loss");
    reduce_metrics(m);
  }
  double t_comm = seconds_since(t3);
  const double grad_norm = clip_grad_norm(params, config_.optim.grad_clip);
  const double lr = learning_rate(config_.optim, step, config_.steps);
  const bool finite = std::isfinite(loss_sum) && std::isfinite(grad_norm);
  if (finite) {
    optimizer_->step(lr);
    if (!owner_.empty()) {  // ZeRO-1: each owner hands its updated tensors to the others
      const auto t4 = Clock::now();
      for (int64_t r = 0; r < world_; ++r) {
        std::vector<at::Tensor> owned;
        for (size_t i = 0; i < trainable_.size(); ++i) {
          if (owner_[i] == r) owned.push_back(trainable_[i]);
        }
        comm_->broadcast(owned, r, "parameter all-gather");
      }
      t_comm += seconds_since(t4);
    }
  } else {
    spdlog::warn("step {}: non-finite loss ({}) or gradient norm ({}); update skipped", step,
                 loss_sum, grad_norm);
  }
  zero_grad();

  const double elapsed = seconds_since(t0);
  m.set("loss", loss_sum);
  m.set("grad_norm", grad_norm);
  m.set("lr", lr);
  m.set("skipped", finite ? 0.0 : 1.0);
  m.set("loss_tokens", global_tokens);
  m.set("tokens_per_s", (m.value("generated_tokens") + global_tokens) / elapsed);
  m.set("time_rollout_s", t_rollout);
  m.set("time_score_s", t_score + t_teacher_logits);
  m.set("time_backward_s", t_backward);
  m.set("time_comm_s", t_comm);
  m.set("time_step_s", elapsed);
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  m.set("peak_rss_mb", double(usage.ru_maxrss) / 1024.0);  // this rank's; Linux reports KiB
  return m;
}

Metrics Trainer::evaluate() {
  const int64_t n = std::min<int64_t>(dataset_.size(), config_.data.prompts_per_step);
  std::vector<std::vector<int64_t>> prompts, teacher_prompts;
  std::vector<int64_t> row_teacher(teacher_of_.begin(), teacher_of_.begin() + n);
  bool teacher_reads_differently = false;
  for (int64_t i = 0; i < n; ++i) {
    prompts.push_back(dataset_[i].ids);
    teacher_prompts.push_back(dataset_[i].teacher_prompt());
    teacher_reads_differently = teacher_reads_differently || !dataset_[i].teacher_ids.empty();
  }
  student_->eval();
  auto generation = generation_config(config_, student_->config(), student_format_);
  generation.seed = draw_seed(config_.seed, /*stream=*/2, 0);
  auto batch = rollout::generate(student_, prompts, generation);
  auto s = rollout::score_token_logprobs(student_, batch, config_.micro_batch_size);
  rollout::ScoreRequest request;
  request.vocab_size = student_->config().vocab_size;
  auto tau = teachers_.score(batch, row_teacher, teacher_reads_differently ? &teacher_prompts : nullptr, request,
                             config_.micro_batch_size).logprobs;
  auto mask = aligned_targets(batch.loss_mask);
  const double count = mask.sum().item<double>();
  Metrics m;
  m.add("kl_k1", ((s - tau) * mask).sum().item<double>(), count);
  m.add("teacher_logprob", (tau * mask).sum().item<double>(), count);
  m.add("student_logprob", (s * mask).sum().item<double>(), count);
  m.set("response_length", batch.response_lengths.to(at::kDouble).mean().item<double>());
  return m;
}

void Trainer::add_student_lora() {
  for (auto& p : student_->parameters()) p.set_requires_grad(false);
  const auto& l = config_.lora;
  const int64_t adapted = model::add_lora(student_, model::LoraSpec{l.rank, l.alpha, l.dropout, l.targets},
                                          draw_seed(config_.seed, /*stream=*/7, 0));
  int64_t params = 0;
  for (const auto& [name, t] : model::lora_weights(student_)) params += t.numel();
  spdlog::info("LoRA: rank {} (alpha {}) on {} projections, {} trainable parameters", l.rank, l.alpha, adapted,
               params);
}

void Trainer::zero_grad() {
  // Every trainable tensor, not only the optimizer's: under ZeRO-1 a rank
  // computes gradients for tensors another rank updates.
  for (auto& p : trainable_) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
}

int64_t Trainer::first_row() const {
  return rank_ * (config_.data.prompts_per_step / world_) * config_.data.samples_per_prompt;
}

void Trainer::reduce_metrics(Metrics& metrics) {
  std::vector<double> flat;
  for (const auto& [name, e] : metrics.entries()) {
    flat.push_back(e.sum);
    flat.push_back(e.count);
  }
  const double keys = double(metrics.entries().size());
  TORCH_CHECK(comm_->max(keys, "metrics") == keys && comm_->sum(keys, "metrics") == keys * double(world_),
              "rank ", rank_, ": the ranks logged different metrics this step");
  flat = comm_->sum(flat, "metrics");
  Metrics global;
  size_t i = 0;
  for (const auto& [name, e] : metrics.entries()) {
    if (e.total) {
      global.add_total(name, flat[i]);
    } else {
      global.add(name, flat[i], flat[i + 1]);
    }
    i += 2;
  }
  metrics = global;
}

void Trainer::save_student(const std::string& name) {
  model::SaveOptions options;
  options.copy_files_from = config_.student.path;  // tokenizer files travel with the weights
  model::save_pretrained(student_, (fs::path(config_.run_dir) / name).string(), options);
}

void Trainer::save_checkpoint() {
  const std::string temp = checkpoint_temp_dir(config_.run_dir, next_step_);
  const bool sharded = !owner_.empty();
  if (rank_ == 0) {
    fs::remove_all(temp);
    model::SaveOptions options;
    options.copy_files_from = config_.student.path;
    options.dtype = student_->dtype();  // the weights exactly as they train
    model::save_pretrained(student_, temp, options);  // throws on non-finite weights: no checkpoint holds them
    if (config_.lora.rank > 0) {  // the merged weights above are for use; a resume needs the adapters
      model::write_safetensors((fs::path(temp) / kAdapterFile).string(), model::lora_weights(student_));
    }
  }
  if (sharded) {  // every rank adds its shard once rank 0 made the directory
    comm_->sum(0.0, "checkpoint directory");
    write_optimizer_state(temp, optimizer_->state(), rank_);
    comm_->sum(0.0, "checkpoint optimizer shards");
  } else if (rank_ == 0) {
    write_optimizer_state(temp, optimizer_->state());
  }
  if (rank_ != 0) return;
  TrainerState state;
  state.step = next_step_;
  state.seed = config_.seed;
  state.sampler = sampler_->state();
  state.consecutive_skips = consecutive_skips_;
  state.optimizer_shards = sharded ? world_ : 0;
  write_trainer_state(temp, state);
  commit_checkpoint(config_.run_dir, next_step_, config_.keep_checkpoints);
  spdlog::info("checkpoint: {}", (fs::path(config_.run_dir) / checkpoint_name(next_step_)).string());
}

void Trainer::resume(const std::string& checkpoint_dir) {
  const auto state = read_trainer_state(checkpoint_dir);
  TORCH_CHECK(state.seed == config_.seed, checkpoint_dir, ": written by a run with seed ", state.seed,
              ", this recipe has seed ", config_.seed, " (the draws would not continue)");
  TORCH_CHECK(state.step <= config_.steps, checkpoint_dir, ": at step ", state.step, ", past the recipe's steps (",
              config_.steps, ")");
  // With LoRA the base weights are the student's as loaded; the adapters resume.
  const bool lora = config_.lora.rank > 0;
  model::CausalLM saved{nullptr};
  if (!lora) saved = model::load_pretrained(checkpoint_dir, model::LoadOptions{student_->dtype(), student_->device()});
  auto from = lora ? model::read_safetensors((fs::path(checkpoint_dir) / kAdapterFile).string()).tensors
                   : model::named_weights(saved);
  auto to = lora ? model::lora_weights(student_) : model::named_weights(student_);
  TORCH_CHECK(from.size() == to.size(), checkpoint_dir, ": ", from.size(), " weights, the student has ", to.size());
  {
    at::NoGradGuard no_grad;
    for (auto& [name, param] : to) {
      const auto it = from.find(name);
      TORCH_CHECK(it != from.end() && it->second.sizes() == param.sizes(), checkpoint_dir, ": weight '", name,
                  "' is missing or of another shape than the student's");
      param.copy_(it->second);
    }
  }
  const int64_t shards = owner_.empty() ? 0 : world_;
  TORCH_CHECK(state.optimizer_shards == shards, checkpoint_dir, ": its optimizer state is ",
              state.optimizer_shards > 0 ? "sharded over " + std::to_string(state.optimizer_shards) + " ranks"
                                         : std::string("not sharded"),
              ", this run ", shards > 0 ? "shards it over " + std::to_string(shards) + " ranks" : "does not shard it",
              " (optim.zero_stage and the world size must match)");
  optimizer_->load_state(read_optimizer_state(checkpoint_dir, shards > 0 ? rank_ : -1));
  sampler_->restore(state.sampler);
  consecutive_skips_ = state.consecutive_skips;
  next_step_ = state.step;
  spdlog::info("resumed from {} at step {}", checkpoint_dir, next_step_);
}

TrainSummary Trainer::run() {
  // Rank 0 writes the run directory; the other ranks only compute.
  const bool writer = rank_ == 0;
  std::optional<MetricsLog> log;
  std::optional<TensorBoardWriter> tensorboard;
  if (writer) {
    fs::create_directories(config_.run_dir);
    std::ofstream out(fs::path(config_.run_dir) / "config.yaml");
    out << train_config_yaml(config_);
    TORCH_CHECK(out.good(), "cannot write ", config_.run_dir, "/config.yaml");
    // A resumed run keeps the metrics of the steps before its checkpoint.
    log.emplace((fs::path(config_.run_dir) / "metrics.jsonl").string(), next_step_);
    tensorboard.emplace((fs::path(config_.run_dir) / "tensorboard").string());
  }
  int64_t student_params = 0;
  for (const auto& p : student_->parameters()) student_params += p.numel();
  spdlog::info("opd-train: objective {} | student {} ({} params) | {} | {} prompts{}", objective_->name(),
               config_.student.path, student_params, teachers_.describe(), dataset_.size(),
               world_ > 1 ? fmt::format(" | {} ranks", world_) : "");

  TrainSummary summary;
  summary.before = evaluate();
  summary.steps = next_step_;
  const int64_t first = next_step_;
  const auto t0 = Clock::now();
  for (int64_t s = first; s < config_.steps; ++s) {
    if (comm_) comm_->mark_progress(s);
    Metrics m = step(s);
    next_step_ = s + 1;
    if (writer) {
      log->write(s, m);
      std::vector<std::pair<std::string, double>> scalars;
      for (const auto& entry : m.entries()) {
        const double v = m.value(entry.first);
        if (std::isfinite(v)) scalars.emplace_back("train/" + entry.first, v);
      }
      tensorboard->add_scalars(s, scalars);
      tensorboard->flush();  // a crash loses nothing logged
    }
    if (s == first) summary.first_step = m;
    summary.last_step = m;
    summary.steps = s + 1;
    consecutive_skips_ = m.value("skipped") > 0 ? consecutive_skips_ + 1 : 0;
    TORCH_CHECK(config_.max_skipped_steps == 0 || consecutive_skips_ < config_.max_skipped_steps, "step ", s,
                ": ", consecutive_skips_, " steps in a row had a non-finite loss or gradient (max_skipped_steps: ",
                config_.max_skipped_steps, "); stopping. The checkpoints hold finite weights only.");
    if ((s + 1) % config_.log_every == 0 || s + 1 == config_.steps) {
      const double eta = seconds_since(t0) / double(s + 1 - first) * double(config_.steps - s - 1);
      const auto kl = headline_kl(m);
      const std::string kl_field = kl ? fmt::format(" | {} {:.4f}", kl->first, kl->second) : "";
      spdlog::info("step {}/{} | loss {:+.4f}{} | grad_norm {:.3f} | lr {:.2e} | {:.0f} tok/s | "
                   "ETA {}",
                   s + 1, config_.steps, m.value("loss"), kl_field, m.value("grad_norm"),
                   m.value("lr"), m.value("tokens_per_s"), format_eta(eta));
    }
    // A signal on any rank stops every rank after the same step.
    const bool stop = comm_ ? comm_->max(stop_requested() ? 1.0 : 0.0, "stop request") > 0 : stop_requested();
    if (stop && s + 1 < config_.steps) {
      spdlog::warn("stop requested: checkpointing after step {} and exiting", s + 1);
      save_checkpoint();
      clear_stop_request();
      summary.stopped = true;
      if (comm_) comm_->sum(0.0, "checkpoint");  // no rank exits before the checkpoint is written
      return summary;
    }
    if (config_.save_every > 0 && (s + 1) % config_.save_every == 0 && s + 1 < config_.steps) save_checkpoint();
  }
  summary.after = evaluate();
  if (writer) save_student("final");
  if (comm_) comm_->sum(0.0, "final save");
  return summary;
}

}  // namespace opd::train
