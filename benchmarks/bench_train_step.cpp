// One training step end to end: tokens/s, model FLOPs utilisation, peak memory
// and where the time goes (rollout, teacher scoring, forward/backward,
// update and gradient communication) for a random student/teacher pair of
// one shape, through the real Trainer, on the CPU or a GPU.
//   build/bin/bench_train_step [--shape small|qwen3-0.6b|qwen3-1.7b] [--device cpu|cuda|cuda:N|auto]
//       [--steps 4] [--prompts 8] [--samples 2] [--prompt-tokens 32] [--new-tokens 64]
//       [--objective opd] [--dtype float32|bfloat16] [--micro-batch 8] [--activation-checkpointing]
//       [--json FILE]
// MFU is the model's matmul FLOPs (6 P per trained token, 2 P per token the
// rollout or the teacher runs; attention's T^2 term left out) over the step
// time and the bf16 (or --dtype) matmul rate measured on the same device in
// the same run. Under torchrun's variables (RANK, WORLD_SIZE, ...) each
// process is a rank and the communication share is measured too; rank 0 prints.
#include "bench_cli.h"
#include "median_timer.h"
#include "memory_meter.h"
#include "opd/core/atomic_file.h"
#include "opd/core/cpu_allocator.h"
#include "opd/core/cpu_threads.h"
#include "opd/dist/communicator.h"
#include "opd/dist/launch_env.h"
#include "opd/model/device.h"
#include "opd/model/pretrained.h"
#include "opd/model/tiny_model.h"
#include "opd/objectives/objective_config.h"
#include "opd/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <future>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Args {
  std::string shape = "small", objective = "opd", dtype = "float32", device = "cpu", json;
  int64_t steps = 4, prompts = 8, samples = 2, new_tokens = 64, prompt_length = 32, micro_batch = 8;
  bool checkpointing = false;
};

// The shapes of the config.json files of the models they are named after.
const std::map<std::string, opd::model::TinyModelSpec>& shapes() {
  static const auto table = [] {
    std::map<std::string, opd::model::TinyModelSpec> t;
    auto& small = t["small"];  // as bench_rollout's random model
    small.vocab_size = 4096, small.hidden_size = 256, small.intermediate_size = 768, small.num_hidden_layers = 4;
    small.num_attention_heads = 8, small.num_key_value_heads = 2, small.head_dim = 32;
    auto& q06 = t["qwen3-0.6b"];
    q06.vocab_size = 151936, q06.hidden_size = 1024, q06.intermediate_size = 3072, q06.num_hidden_layers = 28;
    q06.num_attention_heads = 16, q06.num_key_value_heads = 8, q06.head_dim = 128;
    q06.max_position_embeddings = 40960, q06.rope_theta = 1000000.0;
    auto& q17 = t["qwen3-1.7b"];
    q17 = q06;
    q17.hidden_size = 2048, q17.intermediate_size = 6144;
    return t;
  }();
  return table;
}

// bf16 (or `dtype`) matmul FLOP/s on `device`: the median of timed n x n x n
// products on random data after warm-ups (n = 8192 on a GPU, 1024 on the CPU).
double matmul_rate(const at::Device& device, at::ScalarType dtype) {
  const int64_t n = device.is_cuda() ? 8192 : 1024;
  const auto options = at::TensorOptions().device(device).dtype(dtype);
  const auto a = at::randn({n, n}, options), b = at::randn({n, n}, options);
  auto c = at::empty({n, n}, options);
  for (int i = 0; i < 3; ++i) at::matmul_out(c, a, b);
  opd::bench::synchronize(device);
  const double s = opd::bench::median_seconds([&] {
    at::matmul_out(c, a, b);
    opd::bench::synchronize(device);
  }, device.is_cuda() ? 10 : 3);
  return 2.0 * double(n) * double(n) * double(n) / s;
}

int run(const Args& a) {
  using opd::bench::median;
  const int threads = opd::use_all_cpu_threads();
  const auto env = opd::dist::read_launch_env();
  const at::Device device = opd::model::resolve_device(a.device, env.local_rank, "--device");
  std::shared_ptr<opd::dist::Communicator> comm;
  if (env.distributed()) comm = std::make_shared<opd::dist::Communicator>(env, device, std::chrono::seconds(600));
  if (env.rank != 0) spdlog::set_level(spdlog::level::warn);
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("opd-bench-train-" + std::to_string(::getpid()));
  fs::create_directories(dir);

  using opd::model::ComputeDtype;
  const ComputeDtype dtype = [&] {
    for (const auto& [d, name] : choices(ComputeDtype{})) {
      if (a.dtype == name) return d;
    }
    throw std::invalid_argument("--dtype must be one of: " +
                                opd::config::join(opd::config::choice_names<ComputeDtype>()));
  }();
  const auto setup_start = std::chrono::steady_clock::now();
  auto spec = shapes().at(a.shape);
  spec.eos_token_id = spec.vocab_size - 1;  // rarely drawn: rows run the full length
  spec.dtype = opd::model::scalar_type(dtype);  // stored as computed: no fp32 copy on disk for bf16
  // Teacher and student are drawn at once: each draw is serial (one seeded
  // generator), and at the 1.7B shape each takes tens of seconds.
  const auto write_model = [&spec, &dir](uint64_t seed, double init_std, const std::string& name) {
    auto s = spec;
    s.seed = seed;
    s.init_std = init_std;
    auto model = opd::model::make_tiny_model(s);
    opd::model::save_pretrained(model, (dir / name).string());
    int64_t n = 0;
    for (const auto& p : model->parameters()) n += p.numel();
    return n;
  };
  auto teacher_params = std::async(std::launch::async, write_model, 1, 0.05, "teacher");
  const int64_t params = write_model(2, 0.02, "student");
  teacher_params.get();
  // The embedding lookup is no matmul: an untied model's input table is left out.
  const int64_t matmul_params = params - (spec.tie_word_embeddings ? 0 : spec.vocab_size * spec.hidden_size);
  {
    std::ostringstream prompts;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
    for (int64_t i = 0; i < std::max<int64_t>(64, a.prompts); ++i) {
      auto ids = at::randint(2, spec.vocab_size - 1, {a.prompt_length}, gen, at::kLong);
      prompts << "{\"prompt_ids\": [";
      for (int64_t t = 0; t < a.prompt_length; ++t) prompts << (t ? ", " : "") << ids[t].item<int64_t>();
      prompts << "]}\n";
    }
    opd::write_file_atomically((dir / "prompts.jsonl").string(), prompts.str());
  }

  opd::train::TrainConfig c;
  c.run_dir = (dir / "run").string();
  c.steps = a.steps;
  c.micro_batch_size = a.micro_batch;
  c.activation_checkpointing = a.checkpointing;
  c.log_every = 1000;
  c.student.path = (dir / "student").string();
  c.student.dtype = dtype;
  c.teacher.path = (dir / "teacher").string();
  c.teacher.dtype = dtype;
  c.student.device = device.str();
  c.teacher.device = device.str();
  c.data.train_path = (dir / "prompts.jsonl").string();
  c.data.prompts_per_step = a.prompts;
  c.data.samples_per_prompt = a.samples;
  c.rollout.max_new_tokens = a.new_tokens;
  c.objective = opd::default_objective_config(opd::objective_kind_from_name(a.objective, "--objective"));
  c.optim.lr = 1e-4;
  const double rate = matmul_rate(device, opd::model::scalar_type(dtype));
  opd::bench::MemoryMeter meter(device);
  if (device.is_cuda()) meter.start();  // the CPU's figure is the resident set (getrusage)
  opd::train::Trainer trainer(c, comm);
  const double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_start).count();

  std::vector<double> rollout, score, backward, update, comm_s, step, tokens, seq_tokens;
  for (int64_t s = 0; s < a.steps; ++s) {
    const auto m = trainer.step(s);
    if (s == 0) continue;  // warm-up
    rollout.push_back(m.value("time_rollout_s"));
    score.push_back(m.value("time_score_s"));
    backward.push_back(m.value("time_backward_s"));
    comm_s.push_back(m.value("time_comm_s"));
    step.push_back(m.value("time_step_s"));
    // What the trainer's stopwatches leave over after rollout, scoring and
    // forward + backward: the update (clip, AdamW, communication).
    update.push_back(m.value("time_step_s") - m.value("time_rollout_s") - m.value("time_score_s") -
                     m.value("time_backward_s"));
    tokens.push_back(m.value("generated_tokens") + m.value("loss_tokens"));
    seq_tokens.push_back(double(a.prompts * a.samples * a.prompt_length) + m.value("generated_tokens"));
  }
  opd::bench::synchronize(device);
  const int64_t peak_device = device.is_cuda() ? meter.peak() : 0;
  const int64_t peak_reserved = device.is_cuda() ? meter.peak_reserved() : 0;
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  fs::remove_all(dir);
  if (env.rank != 0) return 0;

  const double t = median(step), seq = median(seq_tokens);
  const double train_flops = 6.0 * double(matmul_params) * seq;  // the student's forward + backward
  const double step_flops = train_flops + 2.0 * double(matmul_params) * seq  /* rollout */
                            + 2.0 * double(matmul_params) * seq;             /* teacher scoring */
  const double train_s = median(backward) + median(update);
  const double world = double(env.world_size);
  std::printf("threads: %d | ranks: %lld | device %s | shape %s (%lld params, vocab %lld) | %s %s | activation checkpointing %s\n",
              threads, static_cast<long long>(env.world_size), device.str().c_str(), a.shape.c_str(),
              static_cast<long long>(params), static_cast<long long>(spec.vocab_size), a.objective.c_str(),
              a.dtype.c_str(), a.checkpointing ? "on" : "off");
  std::printf("global batch: %lld prompts x %lld samples, %lld prompt + %lld new tokens, micro-batch %lld; median of %lld steps after a warm-up; set-up %.1f s\n",
              static_cast<long long>(a.prompts), static_cast<long long>(a.samples), static_cast<long long>(a.prompt_length),
              static_cast<long long>(a.new_tokens), static_cast<long long>(a.micro_batch),
              static_cast<long long>(a.steps - 1), setup_s);
  std::printf("%-28s %10s %8s\n", "phase", "median s", "share");
  auto row = [&](const char* name, double v) { std::printf("%-28s %10.3f %7.1f%%\n", name, v, 100.0 * v / t); };
  row("rollout", median(rollout));
  row("teacher scoring", median(score));
  row("forward + backward", median(backward));
  row("update (+ all-reduce wait)", median(update));
  row("  of which all-reduce", median(comm_s));
  row("step (all)", t);
  const double mfu_step = step_flops / t / (rate * world);
  const double mfu_train = train_flops / train_s / (rate * world);
  std::printf("tokens/s (generated + trained, global): %.0f\n", median(tokens) / t);
  std::printf("matmul rate (%s, measured here, per rank): %.3g TFLOP/s\n", a.dtype.c_str(), rate / 1e12);
  std::printf("MFU: step %.1f%% | forward + backward + update %.1f%% (6 P N = %.3g TFLOP per step)\n", 100 * mfu_step,
              100 * mfu_train, train_flops / 1e12);
  if (device.is_cuda()) {
    std::printf("peak GPU memory (this rank, caching allocator): %.0f MiB allocated, %.0f MiB reserved\n",
                double(peak_device) / 1048576.0, double(peak_reserved) / 1048576.0);
  }
  std::printf("peak resident memory (this rank): %.0f MiB\n", double(usage.ru_maxrss) / 1024.0);
  if (!a.json.empty()) {
    const nlohmann::json j = {{"shape", a.shape}, {"device", device.str()}, {"dtype", a.dtype},
                              {"params", params}, {"ranks", env.world_size}, {"tokens_per_s", median(tokens) / t},
                              {"step_s", t}, {"rollout_s", median(rollout)}, {"score_s", median(score)},
                              {"backward_s", median(backward)}, {"update_s", median(update)},
                              {"comm_s", median(comm_s)}, {"matmul_flops", rate}, {"mfu_step", mfu_step},
                              {"mfu_train", mfu_train}, {"peak_device_bytes", peak_device},
                              {"peak_reserved_bytes", peak_reserved},
                              {"peak_rss_bytes", int64_t{usage.ru_maxrss} * 1024}, {"setup_s", setup_s}};
    opd::write_file_atomically(a.json, j.dump() + "\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  opd::bench::keep_freed_cpu_memory_or_exit("bench_train_step");
  Args a;
  CLI::App app{"One OPD training step of a random student/teacher pair: tokens/s, MFU, peak memory, time split."};
  std::vector<std::string> shape_names;
  for (const auto& [name, spec] : shapes()) shape_names.push_back(name);
  app.add_option("--shape", a.shape, "model shape")->check(CLI::IsMember(shape_names))->capture_default_str();
  app.add_option("--device", a.device, "cpu, cuda, cuda:N or auto (cuda:$LOCAL_RANK when a GPU is visible)")
      ->capture_default_str();
  app.add_option("--objective", a.objective, "objective name, e.g. opd, tropd")->capture_default_str();
  app.add_option("--dtype", a.dtype, "compute dtype")
      ->check(CLI::IsMember(opd::config::choice_names<opd::model::ComputeDtype>()))
      ->capture_default_str();
  app.add_option("--steps", a.steps, "steps, the first a warm-up")->check(opd::bench::at_least(2))
      ->capture_default_str();
  app.add_option("--prompts", a.prompts, "prompts per step")->check(opd::bench::at_least(1))->capture_default_str();
  app.add_option("--samples", a.samples, "samples per prompt")->check(opd::bench::at_least(1))->capture_default_str();
  app.add_option("--prompt-tokens", a.prompt_length, "prompt length")->check(opd::bench::at_least(1))->capture_default_str();
  app.add_option("--new-tokens", a.new_tokens, "response length")->check(opd::bench::at_least(1))->capture_default_str();
  app.add_option("--micro-batch", a.micro_batch, "rows per forward/backward")->check(opd::bench::at_least(1))
      ->capture_default_str();
  app.add_flag("--activation-checkpointing", a.checkpointing, "recompute each layer in backward");
  app.add_option("--json", a.json, "also write the figures to this file as one JSON object");
  opd::bench::one_line_errors(app, "bench_train_step");
  CLI11_PARSE(app, argc, argv);
  try {
    return run(a);
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "bench_train_step: error: %s\n", e.what_without_backtrace());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train_step: error: %s\n", e.what());
  }
  return 1;
}
