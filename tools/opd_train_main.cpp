// opd-train: on-policy distillation from a YAML recipe.
//   opd-train --config configs/smoke/opd_tiny.yaml [--set optim.lr=1e-3 ...] [--resume | --resume-from DIR]
//   torchrun --nproc-per-node 4 --no-python opd-train --config ...   (data parallel, one rank per process)
// SIGTERM / SIGINT checkpoint after the current step and exit 0 (preemption);
// --resume then continues from the newest checkpoint of the run directory.
#include "cli_main.h"
#include "opd/dist/communicator.h"
#include "opd/dist/launch_env.h"
#include "opd/model/device.h"
#include "opd/train/checkpoint.h"
#include "opd/train/config_loader.h"
#include "opd/train/config_reference.h"
#include "opd/train/stop_signal.h"
#include "opd/train/trainer.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <limits>

namespace {

// Objectives log different metrics (sft has no kl_k1 of its own steps): a
// metric a side lacks prints as nan.
double value_or_nan(const opd::Metrics& m, const char* name) {
  return m.has(name) ? m.value(name) : std::numeric_limits<double>::quiet_NaN();
}

void print_summary(const opd::train::TrainSummary& s, const opd::train::TrainConfig& c) {
  auto row = [&](const std::string& name, const opd::Metrics& before, const opd::Metrics& after) {
    std::printf("  %-28s %10.4f -> %10.4f\n", name.c_str(), value_or_nan(before, name.c_str()),
                value_or_nan(after, name.c_str()));
  };
  const auto steps = static_cast<long long>(s.steps);
  if (!s.eval_after.entries().empty()) {
    std::printf("\nevaluation of %s (%lld samples per problem, the same draws each time), before -> after %lld "
                "steps:\n",
                c.data.eval_path.c_str(), static_cast<long long>(c.eval.k), steps);
    for (const auto& entry : s.eval_after.entries()) {
      if (entry.first != "seconds") row(entry.first, s.eval_before, s.eval_after);
    }
  }
  // Not held out: these are the first training prompts (data.eval is the held-out set).
  std::printf("\nrollouts of the first %lld training prompts (fixed seed; not held out), before -> after %lld steps:\n",
              static_cast<long long>(c.data.prompts_per_step), steps);
  for (const char* name : {"kl_k1", "teacher_logprob", "student_logprob", "response_length"}) {
    if (s.after.has(name)) row(name, s.before, s.after);
  }
  std::printf("training steps, first -> last:\n");
  for (const char* name : {"kl_k1", "nll"}) {
    if (s.last_step.has(name)) row(name, s.first_step, s.last_step);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"On-policy distillation of a student from a teacher, configured by a YAML recipe."};
  opd::tools::standard_flags(app);
  std::string config_path;
  std::vector<std::string> overrides;
  bool print_reference = false;
  auto* reference = app.add_flag("--print-config-reference", print_reference,
                                 "print every recipe key as markdown (docs/config_reference.md) and exit");
  app.add_option("--config", config_path, "YAML recipe, e.g. configs/smoke/opd_tiny.yaml")->excludes(reference);
  app.add_option("--set", overrides, "override a recipe key: --set optim.lr=1e-4 (repeatable)");
  bool resume = false;
  std::string resume_from;
  auto* latest = app.add_flag("--resume", resume,
                              "continue from the newest checkpoint in run_dir (start afresh when there is none)");
  app.add_option("--resume-from", resume_from, "continue from this checkpoint directory")->excludes(latest);
  if (auto code = opd::tools::parse_flags("opd-train", app, argc, argv)) return *code;
  if (print_reference) {
    std::fputs(opd::train::config_reference_markdown().c_str(), stdout);
    return 0;
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "opd-train: --config is required\n");
    return 2;
  }

  return opd::tools::run_main("opd-train", [&] {
    spdlog::set_pattern("[%H:%M:%S] %v");
    auto config = opd::train::load_train_config(config_path, overrides);
    // Under torchrun / srun: one rank of a data-parallel run over Gloo.
    const auto env = opd::dist::read_launch_env();
    std::shared_ptr<opd::dist::Communicator> comm;
    if (env.distributed()) {
      if (env.rank != 0) spdlog::set_level(spdlog::level::warn);  // one progress line per run
      // NCCL when the student is on a GPU, Gloo on the CPU.
      const auto device = opd::model::resolve_device(config.student.device, env.local_rank, "student.device");
      comm = std::make_shared<opd::dist::Communicator>(env, device, std::chrono::seconds(config.dist_timeout_s));
    }
    if ((resume || !resume_from.empty()) && !opd::train::resume_has_work(config.run_dir, config.steps)) {
      std::printf("%s finished at step %lld already: nothing to do (raise steps to continue it)\n",
                  config.run_dir.c_str(), static_cast<long long>(config.steps));
      return 0;
    }
    opd::train::Trainer trainer(config, comm);
    if (resume) {
      resume_from = opd::train::latest_checkpoint(config.run_dir);
      if (resume_from.empty()) spdlog::info("--resume: no checkpoint in {} yet; starting at step 0", config.run_dir);
    }
    if (!resume_from.empty()) trainer.resume(resume_from);
    opd::train::install_stop_handlers();
    auto summary = trainer.run();
    if (env.rank != 0) return 0;
    if (summary.stopped) {
      std::printf("stopped after step %lld; continue with --resume\n", static_cast<long long>(summary.steps));
      return 0;
    }
    print_summary(summary, config);
    std::printf("run directory: %s (config.yaml, metrics.jsonl%s, final/)\n", config.run_dir.c_str(),
                config.data.eval_path.empty() ? "" : ", eval.jsonl");
    return 0;
  });
}
