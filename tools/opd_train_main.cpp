// opd-train: on-policy distillation from a YAML recipe.
//   opd-train --config configs/smoke/opd_tiny.yaml [--set optim.lr=1e-3 ...]
#include "cli_main.h"
#include "opd/train/config_loader.h"
#include "opd/train/trainer.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace {

void print_summary(const opd::train::TrainSummary& s) {
  auto row = [&](const char* name, const opd::Metrics& before, const opd::Metrics& after) {
    std::printf("  %-28s %10.4f -> %10.4f\n", name, before.value(name), after.value(name));
  };
  std::printf("\nheld-out rollouts (fixed prompts and seed), before -> after %lld steps:\n",
              static_cast<long long>(s.steps));
  row("kl_k1", s.before, s.after);
  row("teacher_logprob", s.before, s.after);
  row("student_logprob", s.before, s.after);
  row("response_length", s.before, s.after);
  std::printf("training rollouts, first step -> last step:\n");
  std::printf("  %-28s %10.4f -> %10.4f\n", "kl_k1", s.first_step.value("kl_k1"),
              s.last_step.value("kl_k1"));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"On-policy distillation of a student from a teacher, configured by a YAML recipe."};
  std::string config_path;
  std::vector<std::string> overrides;
  app.add_option("--config", config_path, "YAML recipe, e.g. configs/smoke/opd_tiny.yaml")->required();
  app.add_option("--set", overrides, "override a recipe key: --set optim.lr=1e-4 (repeatable)");
  CLI11_PARSE(app, argc, argv);

  return opd::tools::run_main("opd-train", [&] {
    spdlog::set_pattern("[%H:%M:%S] %v");
    auto config = opd::train::load_train_config(config_path, overrides);
    opd::train::Trainer trainer(config);
    auto summary = trainer.run();
    print_summary(summary);
    std::printf("run directory: %s (config.yaml, metrics.jsonl, final/)\n", config.run_dir.c_str());
    return 0;
  });
}
