// opd-bench: the paper harness. Reruns a paper's comparison from a suite file
// (configs/paper/*.yaml): builds the cast, trains and evaluates every row over
// its seeds, and writes the table (Markdown, CSV) and plots. Resumable: rerun
// the same command and finished rows are skipped.
//   opd-bench run configs/paper/tropd_table1.yaml [--out DIR] [--rows opd,fkl] [--set seeds=[0]]
//   opd-bench table configs/paper/tropd_table1.yaml     (tables and plots from the results so far)
//   opd-bench tasks --out data/synth --train 4000 --test 200   (the synthetic tasks alone)
#include "cli_main.h"
#include "opd/data/synthetic_tasks.h"
#include "opd/paper/suite_runner.h"
#include "opd/train/stop_signal.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace {

// The Python that draws the plots: $OPD_PYTHON, else the venv this build
// was configured with (tools/setup.sh puts matplotlib there), else python3.
std::string plot_python() {
  if (const char* env = std::getenv("OPD_PYTHON")) return env;
  if (std::filesystem::exists(OPD_PYTHON)) return OPD_PYTHON;
  return "python3";
}

// PNG plots by tools/opd_bench_plot.py (matplotlib); skipped with a note
// when Python or matplotlib is missing, since the tables do not need them.
void write_plots(const opd::paper::Suite& suite, const std::string& script) {
  if (!std::filesystem::exists(script)) {
    std::printf("plots skipped: %s not found (--plot-script)\n", script.c_str());
    return;
  }
  const std::string command = "'" + plot_python() + "' '" + script + "' '" + suite.out_dir + "'";
  if (std::system(command.c_str()) != 0) std::printf("plots skipped: %s failed (see above)\n", command.c_str());
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The paper harness: train and evaluate every row of a suite, then tabulate and plot."};
  opd::tools::standard_flags(app);
  app.require_subcommand(1);
  std::string suite_path, out_dir, rows, plot_script = std::string(OPD_SOURCE_DIR) + "/tools/opd_bench_plot.py";
  std::vector<std::string> overrides;
  bool no_plots = false;
  auto add_suite_options = [&](CLI::App* cmd) {
    cmd->add_option("suite", suite_path, "suite file, e.g. configs/paper/tropd_table1.yaml")->required();
    cmd->add_option("--out", out_dir, "results directory (default: the suite's out_dir)");
    cmd->add_option("--set", overrides, "override a suite key: --set seeds=[0] --set recipe.steps=10 (repeatable)");
    cmd->add_option("--plot-script", plot_script, "the matplotlib script that draws the PNG plots");
    cmd->add_flag("--no-plots", no_plots, "write the tables only");
  };
  auto* run = app.add_subcommand("run", "build the cast, train and evaluate every row not yet done, write the table");
  add_suite_options(run);
  run->add_option("--rows", rows, "comma-separated row names to run (default: all)");
  auto* table = app.add_subcommand("table", "write the table and plots from the results so far");
  add_suite_options(table);
  auto* tasks = app.add_subcommand("tasks", "write the synthetic tasks (train.jsonl, test.jsonl) alone");
  opd::data::SyntheticTaskSpec spec;
  std::string tasks_out;
  tasks->add_option("--out", tasks_out, "output directory")->required();
  tasks->add_option("--train", spec.train_size, "training problems")->check(opd::tools::positive());
  tasks->add_option("--test", spec.test_size, "test problems (disjoint from training)")->check(opd::tools::positive());
  tasks->add_option("--seed", spec.seed);
  tasks->add_option("--domains", spec.domains, "arith, reverse")->delimiter(',');
  if (auto code = opd::tools::parse_flags("opd-bench", app, argc, argv)) return *code;

  return opd::tools::run_main("opd-bench", [&] {
    using namespace opd;
    spdlog::set_pattern("[%H:%M:%S] %v");
    if (tasks->parsed()) {
      const auto splits = data::make_synthetic_splits(spec);
      data::write_synthetic_jsonl(splits.train, tasks_out + "/train.jsonl");
      data::write_synthetic_jsonl(splits.test, tasks_out + "/test.jsonl");
      std::printf("wrote %zu training and %zu test problems to %s\n", splits.train.size(), splits.test.size(),
                  tasks_out.c_str());
      return 0;
    }
    if (!out_dir.empty()) overrides.push_back("out_dir=" + out_dir);
    const auto suite = paper::load_suite(suite_path, overrides);
    if (run->parsed()) {
      train::install_stop_handlers();
      const auto report = paper::run_suite(suite, paper::SuiteRunOptions{split_list(rows)});
      std::printf("%s: %lld cast models built, %lld baselines evaluated, %lld (row, seed) runs trained, %lld already done\n",
                  suite.name.c_str(), static_cast<long long>(report.cast_built),
                  static_cast<long long>(report.evaluated), static_cast<long long>(report.trained),
                  static_cast<long long>(report.done_before));
      if (report.stopped) {
        std::printf("stopped by a signal; rerun the same command to continue\n");
        return 0;
      }
    }
    std::printf("\n%s\n", paper::write_tables(suite).c_str());
    if (!no_plots) write_plots(suite, plot_script);
    std::printf("results: %s/results.md, results.csv, summary.json\n", suite.out_dir.c_str());
    return 0;
  });
}
