#include "opd/train/trainer.h"

#include "opd/core/atomic_file.h"
#include "opd/core/caching_cpu_allocator.h"
#include "opd/core/seed_streams.h"
#include "opd/core/stopwatch.h"
#include "opd/core/tensorboard_writer.h"
#include "opd/core/token_alignment.h"
#include "opd/model/lora.h"
#include "opd/objectives/registry.h"
#include "opd/rollout/generator.h"
#include "opd/rollout/scoring.h"
#include "opd/train/config_loader.h"
#include "opd/train/gradient_accumulation.h"
#include "opd/train/loss_plan.h"
#include "opd/train/metrics_log.h"
#include "opd/train/stop_signal.h"
#include "opd/train/training_evaluation.h"
#include "opd/train/valid_solution_tokens.h"
#include "trainer_impl.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <utility>

namespace opd::train {
namespace fs = std::filesystem;
namespace {

// What a step spent where, in seconds.
struct StepTimes {
  double rollout = 0, score = 0, backward = 0, comm = 0, total = 0;
  double system = 0;  // CPU seconds this process spent in the kernel (page faults, futexes), all threads
};

double system_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_stime.tv_sec) + 1e-6 * double(usage.ru_stime.tv_usec);
}

void record_step(Metrics& m, const UpdateOutcome& u, const LossPlan& plan, const StepTimes& times) {
  m.set("loss", u.loss);
  m.set("grad_norm", u.grad_norm);
  m.set("lr", u.lr);
  m.set("skipped", u.applied ? 0.0 : 1.0);
  m.set("loss_tokens", plan.global_tokens);
  m.set("tokens_per_s", (m.value("generated_tokens") + plan.global_tokens) / times.total);
  m.set("time_rollout_s", times.rollout);
  m.set("time_score_s", times.score);
  m.set("time_backward_s", times.backward);
  m.set("time_comm_s", times.comm);
  m.set("time_step_s", times.total);
  m.set("time_system_s", times.system);
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  m.set("peak_rss_mb", double(usage.ru_maxrss) / 1024.0);  // this rank's; Linux reports KiB
}

// The progress line's headline, a divergence that means the same under
// every objective (the surrogate loss does not: its sign and scale are the
// objective's): the reverse-KL estimate "kl_k1", else a weighted sum's
// "<term>.kl_k1" (every term measures it over the same student tokens, so
// any one will do), else the full-vocabulary KL, else sft's nll.
std::optional<std::pair<std::string, double>> headline_divergence(const Metrics& m) {
  for (const char* name : {"kl_k1", "kl_reverse", "kl_forward", "nll"}) {
    if (m.has(name)) return std::make_pair(std::string(name), m.value(name));
  }
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

// The finite metrics as TensorBoard scalars "<prefix><name>" at `step`,
// flushed so that a crash loses nothing logged.
void add_scalars(TensorBoardWriter& tensorboard, int64_t step, const std::string& prefix, const Metrics& m) {
  std::vector<std::pair<std::string, double>> scalars;
  for (const auto& entry : m.entries()) {
    const double v = m.value(entry.first);
    if (std::isfinite(v)) scalars.emplace_back(prefix + entry.first, v);
  }
  tensorboard.add_scalars(step, scalars);
  tensorboard.flush();
}

std::string format_eta(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  return fmt::format("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

}  // namespace

Trainer::Impl::Impl(TrainConfig c, std::shared_ptr<dist::Communicator> communicator)
    : config(std::move(c)), comm(std::move(communicator)) {
  if (comm) {
    rank = comm->rank();
    world = comm->world_size();
    TORCH_CHECK(config.data.prompts_per_step % world == 0, "data.prompts_per_step: ", config.data.prompts_per_step,
                " prompts do not split evenly over ", world, " ranks");
  }
  TORCH_CHECK(!config.log_gradient_noise || config.data.prompts_per_step / world >= 2,
              "log_gradient_noise: the gradient's two halves need at least 2 prompts per rank and step; data.prompts_per_step is ",
              config.data.prompts_per_step, world > 1 ? fmt::format(" over {} ranks", world) : std::string());
  if (rank == 0) {  // before anything is loaded: a second run on run_dir fails at once
    run_lock.emplace(config.run_dir);
    if (run_lock->removed_temporaries() > 0) {
      spdlog::info("{}: removed {} temporaries a stopped run left behind", config.run_dir,
                   run_lock->removed_temporaries());
    }
  }
  objective = make_objective(config.objective);  // validates the objective block
  needs = objective->needs();
  resources = load_run_resources(config, needs, std::string(objective->name()), comm ? comm->env().local_rank : 0);
  auto& student = resources.student;
  TORCH_CHECK(!comm || comm->device() == student->device(), "student.device: the student is on ", student->device(),
              " but this rank's process group reduces on ", comm->device(),
              "; the gradients must be where the group reduces them");
  if (config.lora.rank > 0) add_student_lora();
  student->model->checkpoint_layers = config.activation_checkpointing;
  writer.emplace(make_trajectory_writer(config, needs.trajectory, resources, world));
  solutions_known = knows_solutions(resources.dataset);
  rollout::StepScoring scoring;
  scoring.teacher.logprobs = needs.teacher_logprobs;
  scoring.teacher.topk = needs.teacher_topk;
  scoring.teacher.entropy = needs.teacher_entropy;
  scoring.teacher.vocab_size = student->config().vocab_size;  // each teacher cuts to its own when smaller
  scoring.teacher_logits = needs.teacher_logits;
  scoring.reference_logprobs = needs.reference_logprobs;
  scoring.micro_batch = config.micro_batch_size;
  scorer.emplace(scoring, resources.teachers, resources.reference);
  sampler = std::make_unique<data::PromptSampler>(resources.dataset.size(), config.seed, config.data.shuffle);
  std::vector<at::Tensor> trainable;
  for (const auto& p : student->parameters()) trainable.push_back(p);
  if (comm) comm->broadcast(trainable, 0, "initial weights");  // every rank starts from rank 0's weights
  trainable.erase(std::remove_if(trainable.begin(), trainable.end(), [](const at::Tensor& p) { return !p.requires_grad(); }),
                  trainable.end());
  updater = std::make_unique<Updater>(trainable, config.optim, config.steps, comm, config.dist_bucket_mb);
}

void Trainer::Impl::add_student_lora() {
  auto& student = resources.student;
  for (auto& p : student->parameters()) p.set_requires_grad(false);
  const auto& l = config.lora;
  const int64_t adapted = model::add_lora(student, model::LoraSpec{l.rank, l.alpha, l.dropout, l.targets},
                                          draw_seed(config.seed, SeedStream::kLoraInit, 0));
  int64_t params = 0;
  for (const auto& [name, t] : model::lora_weights(student)) params += t.numel();
  spdlog::info("LoRA: rank {} (alpha {}) on {} projections, {} trainable parameters", l.rank, l.alpha, adapted,
               params);
}

int64_t Trainer::Impl::first_row() const {
  return rank * (config.data.prompts_per_step / world) * config.data.samples_per_prompt;
}

std::vector<int64_t> Trainer::Impl::next_rows() {
  std::vector<int64_t> rows;
  for (int64_t i : sampler->next_shard(config.data.prompts_per_step, rank, world)) {
    rows.insert(rows.end(), static_cast<size_t>(config.data.samples_per_prompt), i);
  }
  return rows;
}

Metrics Trainer::Impl::step(int64_t step) {
  StepTimes times;
  const Stopwatch whole;
  const double system_at_start = system_cpu_seconds();
  Metrics m;
  const auto rows = next_rows();
  const auto trajectories = writer->write(step, rows, first_row(), &m);
  release_cached_cpu_blocks();
  times.rollout = whole.seconds();

  const Stopwatch scoring;
  const auto scores = scorer->score(trajectories);
  release_cached_cpu_blocks();
  times.score = scoring.seconds();

  const Stopwatch backward;
  const auto sum_over_ranks = [this](double v) { return comm ? comm->sum(v, "loss token count") : v; };
  auto plan = plan_loss(trajectories.batch, config.objective.normalization, first_row(), step, sum_over_ranks);
  if (solutions_known) {
    plan.valid_tokens = aligned_targets(
        valid_solution_tokens(trajectories.batch, rows, resources.dataset, *resources.student_format.tokenizer));
  }
  MicroBatching run;
  run.micro_batch_size = config.micro_batch_size;
  run.logits_chunk_tokens = config.logits_chunk_tokens;
  run.step = step;
  run.seed = config.seed;
  if (config.lora.dropout > 0) run.dropout_seed = draw_seed(config.seed, SeedStream::kLoraDropout, step);
  run.poison = step == poisoned_step;
  run.before_last_backward = [this] { updater->arm_gradient_sync(); };
  if (config.log_gradient_noise) {
    run.split_at_row = config.data.prompts_per_step / world / 2 * config.data.samples_per_prompt;
    run.after_first_half = [this] { updater->keep_first_half_gradient(); };
  }
  if (comm) run.sum_over_ranks = [this](std::vector<double> v) { return comm->sum(std::move(v), "entropy selection"); };
  updater->zero_grad();
  const auto grads = accumulate_gradients(resources.student, *objective, trajectories, plan, *scorer, scores, run, m);
  release_cached_cpu_blocks();
  times.score += grads.teacher_seconds;
  times.backward = backward.seconds() - grads.teacher_seconds;

  const auto update = updater->update(step, grads.loss, m);
  times.comm = update.comm_seconds;
  times.total = whole.seconds();
  times.system = system_cpu_seconds() - system_at_start;
  record_step(m, update, plan, times);
  return m;
}

Metrics Trainer::Impl::evaluate() {
  const auto& dataset = resources.dataset;
  auto& student = resources.student;
  const int64_t n = std::min<int64_t>(dataset.size(), config.data.prompts_per_step);
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[static_cast<size_t>(i)] = i;
  const auto t = writer->prompts_of(rows);
  std::vector<std::vector<int64_t>> prompts;
  for (int64_t i : rows) prompts.push_back(dataset[i].ids);
  student->eval();
  const auto batch = rollout::generate(
      student, prompts, writer->student_generation(draw_seed(config.seed, SeedStream::kEvaluation, 0), 0));
  const auto s = rollout::score_token_logprobs(student, batch, config.micro_batch_size);
  const auto mask = aligned_targets(batch.loss_mask).to(s.device());
  const double count = mask.sum().item<double>();
  Metrics m;
  m.add("student_logprob", (s * mask).sum().item<double>(), count);
  // sft on the dataset's solutions may run without a teacher: then there is nothing to compare with.
  const bool scored = std::all_of(t.row_teacher.begin(), t.row_teacher.end(), [](int64_t r) { return r >= 0; });
  if (scored) {
    rollout::ScoreRequest request;
    request.vocab_size = student->config().vocab_size;
    const auto tau =
        resources.teachers.score(batch, t.row_teacher, t.teacher_contexts(), request, config.micro_batch_size)
            .logprobs.to(s.device());
    m.add("kl_k1", ((s - tau) * mask).sum().item<double>(), count);
    m.add("teacher_logprob", (tau * mask).sum().item<double>(), count);
  }
  m.set("response_length", batch.response_lengths.to(at::kDouble).mean().item<double>());
  return m;
}

Metrics Trainer::Impl::evaluate_answers(int64_t steps_done, MetricsLog* log, TensorBoardWriter* tensorboard) {
  const auto r = evaluate_training(resources.student, resources.student_format, *resources.eval_set, config, comm.get());
  const auto& m = r.metrics;
  const std::string avg = fmt::format("avg@{}", config.eval.k);
  spdlog::info("eval after {} steps | {} {:.4f} | pass@1 {:.4f} | response_length {:.1f} | {:.1f} s", steps_done, avg,
               m.value(avg), m.value("pass@1"), m.value("response_length"), m.value("seconds"));
  if (log) {
    nlohmann::json samples = nlohmann::json::array();
    for (const auto& s : r.samples) {
      samples.push_back({{"line", s.line}, {"domain", s.domain}, {"response", s.response}, {"correct", s.correct}});
    }
    log->write(steps_done, m, "samples", samples);
  }
  if (tensorboard) add_scalars(*tensorboard, steps_done, "eval/", m);
  return m;
}

TrainSummary Trainer::Impl::run() {
  // Rank 0 writes the run directory; the other ranks only compute.
  const bool writes = rank == 0;
  std::optional<MetricsLog> log, eval_log;
  std::optional<TensorBoardWriter> tensorboard;
  if (writes) {
    fs::create_directories(config.run_dir);
    write_file_atomically((fs::path(config.run_dir) / "config.yaml").string(), train_config_yaml(config));
    // A resumed run keeps the metrics of the steps before its checkpoint.
    log.emplace((fs::path(config.run_dir) / "metrics.jsonl").string(), next_step);
    tensorboard.emplace((fs::path(config.run_dir) / "tensorboard").string());
    if (next_step > 0) tensorboard->mark_restart(next_step);  // the replayed steps replace the earlier file's
    if (resources.eval_set) {
      // Evaluations up to the checkpoint's step stay; the one at that step is
      // logged again, as the restart drops it from the earlier file.
      eval_log.emplace((fs::path(config.run_dir) / "eval.jsonl").string(), next_step + 1);
      std::vector<std::pair<std::string, double>> again;
      for (const auto& [name, v] : eval_log->kept_values(next_step)) again.emplace_back("eval/" + name, v);
      if (!again.empty()) tensorboard->add_scalars(next_step, again);
    }
  }
  MetricsLog* const eval_out = eval_log ? &*eval_log : nullptr;
  TensorBoardWriter* const tensorboard_out = tensorboard ? &*tensorboard : nullptr;
  int64_t student_params = 0;
  for (const auto& p : resources.student->parameters()) student_params += p.numel();
  spdlog::info("opd-train: objective {} | student {} ({} params) | {} | {} prompts{}", objective->name(),
               config.student.path, student_params,
               resources.teachers.size() > 0 ? resources.teachers.describe() : "no teacher", resources.dataset.size(),
               world > 1 ? fmt::format(" | {} ranks", world) : "");

  TrainSummary summary;
  summary.before = evaluate();
  if (resources.eval_set && next_step == 0 && config.eval.before_training) {
    summary.eval_before = evaluate_answers(0, eval_out, tensorboard_out);
  }
  summary.steps = next_step;
  const int64_t first = next_step;
  const Stopwatch running;
  for (int64_t s = first; s < config.steps; ++s) {
    if (comm) comm->mark_progress(s);
    Metrics m = step(s);
    next_step = s + 1;
    if (writes) {
      log->write(s, m);
      add_scalars(*tensorboard, s, "train/", m);
    }
    if (s == first) summary.first_step = m;
    summary.last_step = m;
    summary.steps = s + 1;
    consecutive_skips = m.value("skipped") > 0 ? consecutive_skips + 1 : 0;
    TORCH_CHECK(config.max_skipped_steps == 0 || consecutive_skips < config.max_skipped_steps, "step ", s, ": ",
                consecutive_skips, " steps in a row had a non-finite loss or gradient (max_skipped_steps: ",
                config.max_skipped_steps, "); stopping. The checkpoints hold finite weights only.");
    if ((s + 1) % config.log_every == 0 || s + 1 == config.steps) {
      const double eta = running.seconds() / double(s + 1 - first) * double(config.steps - s - 1);
      const auto headline = headline_divergence(m);
      const std::string headline_field =
          headline ? fmt::format(" | {} {:.4f}", headline->first, headline->second) : "";
      spdlog::info("step {}/{}{} | surrogate {:+.4f} | grad_norm {:.3f} | lr {:.2e} | {:.0f} tok/s | ETA {}", s + 1,
                   config.steps, headline_field, m.value("loss"), m.value("grad_norm"), m.value("lr"),
                   m.value("tokens_per_s"), format_eta(eta));
    }
    if (resources.eval_set && evaluation_due(config.eval, s + 1, config.steps)) {
      auto evaluated = evaluate_answers(s + 1, eval_out, tensorboard_out);
      if (s + 1 == config.steps) summary.eval_after = std::move(evaluated);
    }
    // A signal on any rank stops every rank after the same step.
    const bool stop = comm ? comm->max(stop_requested() ? 1.0 : 0.0, "stop request") > 0 : stop_requested();
    if (stop && s + 1 < config.steps) {
      spdlog::warn("stop requested: checkpointing after step {} and exiting", s + 1);
      save_checkpoint();
      clear_stop_request();
      summary.stopped = true;
      barrier("checkpoint");  // no rank exits before the checkpoint is written
      return summary;
    }
    if (config.save_every > 0 && (s + 1) % config.save_every == 0 && s + 1 < config.steps) save_checkpoint();
  }
  summary.after = evaluate();
  if (writes) save_student("final");
  barrier("final save");
  return summary;
}

Trainer::Trainer(TrainConfig config, std::shared_ptr<dist::Communicator> comm)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(comm))) {}
Trainer::~Trainer() = default;
TrainSummary Trainer::run() { return impl_->run(); }
void Trainer::resume(const std::string& checkpoint_dir) { impl_->resume(checkpoint_dir); }
int64_t Trainer::next_step() const { return impl_->next_step; }
void Trainer::inject_non_finite_loss(int64_t step) { impl_->poisoned_step = step; }
Metrics Trainer::step(int64_t step) { return impl_->step(step); }
Metrics Trainer::evaluate() { return impl_->evaluate(); }
model::CausalLM& Trainer::student() { return impl_->resources.student; }
const TrainConfig& Trainer::config() const { return impl_->config; }
const ObjectiveNeeds& Trainer::needs() const { return impl_->needs; }

}  // namespace opd::train
