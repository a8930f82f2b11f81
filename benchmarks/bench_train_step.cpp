// One training step end to end: tokens/s, peak memory and where the time goes
// (rollout, teacher scoring, forward/backward, gradient communication) for a
// random student/teacher pair, through the real Trainer.
//   build/bin/bench_train_step [--shape small|qwen3-0.6b] [--steps 4] [--prompts 8] [--samples 2]
//                              [--new-tokens 64] [--objective opd] [--dtype float32] [--micro-batch 8]
//                              [--activation-checkpointing 0|1]
// Under torchrun's variables (RANK, WORLD_SIZE, ...) each process is a rank
// and the communication share is measured too; rank 0 prints.
#include "median_timer.h"
#include "opd/core/atomic_file.h"
#include "opd/core/cpu_threads.h"
#include "opd/dist/communicator.h"
#include "opd/dist/launch_env.h"
#include "opd/model/pretrained.h"
#include "opd/model/tiny_model.h"
#include "opd/objectives/objective_config.h"
#include "opd/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Args {
  std::string shape = "small", objective = "opd", dtype = "float32";
  int64_t steps = 4, prompts = 8, samples = 2, new_tokens = 64, prompt_length = 32, micro_batch = 8;
  bool checkpointing = false;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], v = argv[i + 1];
    if (flag == "--shape") a.shape = v;
    else if (flag == "--objective") a.objective = v;
    else if (flag == "--dtype") a.dtype = v;
    else if (flag == "--steps") a.steps = std::atoll(v.c_str());
    else if (flag == "--prompts") a.prompts = std::atoll(v.c_str());
    else if (flag == "--samples") a.samples = std::atoll(v.c_str());
    else if (flag == "--new-tokens") a.new_tokens = std::atoll(v.c_str());
    else if (flag == "--micro-batch") a.micro_batch = std::atoll(v.c_str());
    else if (flag == "--activation-checkpointing") a.checkpointing = v == "1" || v == "true";
    else { std::fprintf(stderr, "bench_train_step: unknown flag %s\n", flag.c_str()); std::exit(2); }
  }
  if (a.steps < 2) a.steps = 2;
  return a;
}

opd::model::TinyModelSpec shape(const std::string& name) {
  opd::model::TinyModelSpec s;
  if (name == "small") {  // as bench_rollout
    s.vocab_size = 4096, s.hidden_size = 256, s.intermediate_size = 768, s.num_hidden_layers = 4;
    s.num_attention_heads = 8, s.num_key_value_heads = 2, s.head_dim = 32;
  } else if (name == "qwen3-0.6b") {  // Qwen3-0.6B's config.json shape
    s.vocab_size = 151936, s.hidden_size = 1024, s.intermediate_size = 3072, s.num_hidden_layers = 28;
    s.num_attention_heads = 16, s.num_key_value_heads = 8, s.head_dim = 128;
    s.max_position_embeddings = 40960, s.rope_theta = 1000000.0;
  } else {
    std::fprintf(stderr, "bench_train_step: --shape must be small or qwen3-0.6b\n");
    std::exit(2);
  }
  s.eos_token_id = s.vocab_size - 1;  // rarely drawn: rows run the full length
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  using opd::bench::median;
  const Args a = parse(argc, argv);
  const int threads = opd::use_all_cpu_threads();
  const auto env = opd::dist::read_launch_env();
  std::shared_ptr<opd::dist::Communicator> comm;
  if (env.distributed()) comm = std::make_shared<opd::dist::Communicator>(env, at::kCPU, std::chrono::seconds(600));
  if (env.rank != 0) spdlog::set_level(spdlog::level::warn);
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("opd-bench-train-" + std::to_string(::getpid()));
  fs::create_directories(dir);

  auto spec = shape(a.shape);
  spec.seed = 1;
  spec.init_std = 0.05;
  auto teacher = opd::model::make_tiny_model(spec);
  opd::model::save_pretrained(teacher, (dir / "teacher").string());
  spec.seed = 2;
  spec.init_std = 0.02;
  auto student = opd::model::make_tiny_model(spec);
  opd::model::save_pretrained(student, (dir / "student").string());
  int64_t params = 0;
  for (const auto& p : student->parameters()) params += p.numel();
  {
    std::ostringstream prompts;
    auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
    for (int64_t i = 0; i < 64; ++i) {
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
  using opd::model::ComputeDtype;
  const ComputeDtype dtype = [&] {
    for (const auto& [d, name] : choices(ComputeDtype{})) {
      if (a.dtype == name) return d;
    }
    throw std::invalid_argument("--dtype must be one of: " +
                                opd::config::join(opd::config::choice_names<ComputeDtype>()));
  }();
  c.student = {(dir / "student").string(), dtype, ""};
  c.teacher = {(dir / "teacher").string(), dtype, ""};
  c.data.train_path = (dir / "prompts.jsonl").string();
  c.data.prompts_per_step = a.prompts;
  c.data.samples_per_prompt = a.samples;
  c.rollout.max_new_tokens = a.new_tokens;
  c.objective = opd::default_objective_config(opd::objective_kind_from_name(a.objective, "--objective"));
  c.optim.lr = 1e-4;
  opd::train::Trainer trainer(c, comm);

  std::vector<double> rollout, score, backward, comm_s, step, tokens, loss_tokens;
  for (int64_t s = 0; s < a.steps; ++s) {
    const auto m = trainer.step(s);
    if (s == 0) continue;  // warm-up
    rollout.push_back(m.value("time_rollout_s"));
    score.push_back(m.value("time_score_s"));
    backward.push_back(m.value("time_backward_s"));
    comm_s.push_back(m.value("time_comm_s"));
    step.push_back(m.value("time_step_s"));
    tokens.push_back(m.value("generated_tokens") + m.value("loss_tokens"));
    loss_tokens.push_back(m.value("loss_tokens"));
  }
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  fs::remove_all(dir);
  if (env.rank != 0) return 0;

  const double t = median(step);
  const double train_flops = 6.0 * double(params) * median(loss_tokens);  // forward + backward of the student
  std::printf("threads: %d | ranks: %lld | shape %s (%lld params, vocab %lld) | %s %s | activation checkpointing %s\n",
              threads, static_cast<long long>(env.world_size), a.shape.c_str(), static_cast<long long>(params),
              static_cast<long long>(spec.vocab_size), a.objective.c_str(), a.dtype.c_str(),
              a.checkpointing ? "on" : "off");
  std::printf("global batch: %lld prompts x %lld samples, %lld new tokens; median of %lld steps after a warm-up\n",
              static_cast<long long>(a.prompts), static_cast<long long>(a.samples),
              static_cast<long long>(a.new_tokens), static_cast<long long>(a.steps - 1));
  std::printf("%-22s %10s %8s\n", "phase", "median s", "share");
  auto row = [&](const char* name, const std::vector<double>& v) {
    std::printf("%-22s %10.3f %7.1f%%\n", name, median(v), 100.0 * median(v) / t);
  };
  row("rollout", rollout);
  row("teacher scoring", score);
  row("forward + backward", backward);
  row("gradient all-reduce", comm_s);
  row("step (all)", step);
  std::printf("tokens/s (generated + trained, global): %.0f\n", median(tokens) / t);
  std::printf("student training GFLOP/s, all ranks (6 N tokens / fwd+bwd time): %.1f\n",
              train_flops / median(backward) / 1e9);
  std::printf("peak resident memory (this rank): %.0f MiB\n", double(usage.ru_maxrss) / 1024.0);
  return 0;
}
