#include "opd/paper/suite_runner.h"

#include "opd/core/atomic_file.h"
#include "opd/core/text_file.h"
#include "opd/model/pretrained.h"
#include "opd/paper/cast_builder.h"
#include "opd/paper/claim_verdicts.h"
#include "opd/paper/results_table.h"
#include "opd/train/answer_evaluation.h"
#include "opd/train/checkpoint.h"
#include "opd/train/prompt_formats.h"
#include "opd/train/run_resources.h"
#include "opd/train/trainer.h"

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

namespace opd::paper {
namespace fs = std::filesystem;
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The model spec every evaluation reads prompts with: the rows' student's
// format (its chat template), so baselines and rows see the same prompts.
train::TrainConfig eval_reader(const Suite& suite) { return row_config(suite, suite.rows.front(), suite.seeds.front()); }

// Scores of the model in `dir` on every split of the suite.
std::map<std::string, eval::EvalReport> evaluate_model(const Suite& suite, const std::string& dir, uint64_t seed) {
  const auto reader = eval_reader(suite);
  train::ModelSpec spec = reader.student;
  spec.path = dir;
  auto model = train::load_model(spec, suite.path + ": student");  // on the device the rows train on
  model->eval();
  const auto format = train::load_prompt_format(spec, reader.data, suite.path + ": student.chat_template");
  const auto verifier = eval::make_verifier(suite.eval.verifier);
  train::AnswerEvalOptions options;
  options.k = suite.eval.k;
  options.batch = suite.eval.batch;
  options.limit = suite.eval.limit;
  options.generation.max_new_tokens = suite.eval.max_new_tokens;
  options.generation.sampling.temperature = suite.eval.temperature;
  options.generation.sampling.top_p = suite.eval.top_p;
  options.generation.seed = seed;
  std::map<std::string, eval::EvalReport> reports;
  for (const auto& [split, file] : suite.eval.splits) {
    const auto dataset = data::PromptDataset::from_file(file, &format);
    const auto result = train::evaluate_answers(model, format, dataset, *verifier, options);
    reports[split] = eval::summarize(result.outcomes, suite.eval.k, suite.eval.pass_at);
  }
  return reports;
}

// The numeric fields of the last line of a metrics.jsonl.
std::map<std::string, double> last_metrics(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  std::map<std::string, double> out;
  if (last.empty()) return out;
  const auto fields = nlohmann::json::parse(last);
  for (const auto& [k, v] : fields.items()) {
    if (v.is_number()) out[k] = v.get<double>();
  }
  return out;
}

// `metric`'s value at every step of a metrics.jsonl (steps without it are skipped).
std::vector<double> metric_curve(const std::string& path, const std::string& metric) {
  std::ifstream in(path);
  std::string line;
  std::vector<double> curve;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto fields = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (fields.is_object() && fields.contains(metric) && fields[metric].is_number()) {
      curve.push_back(fields[metric].get<double>());
    }
  }
  return curve;
}

bool selected(const SuiteRunOptions& options, const std::string& row) {
  return options.only_rows.empty() ||
         std::find(options.only_rows.begin(), options.only_rows.end(), row) != options.only_rows.end();
}

}  // namespace

std::string baseline_dir(const Suite& suite, const std::string& name) {
  return suite.out_dir + "/baselines/" + row_slug(name);
}

SuiteRunReport run_suite(const Suite& suite, const SuiteRunOptions& options) {
  for (const auto& name : options.only_rows) {
    const bool known = std::any_of(suite.rows.begin(), suite.rows.end(), [&](const SuiteRow& r) { return r.name == name; });
    TORCH_CHECK(known, suite.path, ": --rows: no row named '", name, "'");
  }
  SuiteRunReport report;
  const auto cast = build_cast(suite);
  report.cast_built = cast.built;
  if (cast.stopped) {
    report.stopped = true;
    return report;
  }
  for (const auto& base : suite.baselines) {
    const std::string result_path = baseline_dir(suite, base.name) + "/result.json";
    if (fs::exists(result_path)) {
      ++report.done_before;
      continue;
    }
    spdlog::info("opd-bench: evaluating baseline '{}' ({})", base.name, base.path);
    RowResult r;
    r.row = base.name;
    r.baseline = true;
    const auto t0 = std::chrono::steady_clock::now();
    r.splits = evaluate_model(suite, base.path, suite.seeds.front());
    r.eval_seconds = seconds_since(t0);
    fs::create_directories(baseline_dir(suite, base.name));
    write_file_atomically(result_path, row_result_json(r));
    ++report.evaluated;
  }
  for (const auto& row : suite.rows) {
    if (!selected(options, row.name)) continue;
    for (const auto seed : suite.seeds) {
      const auto config = row_config(suite, row, seed);
      const std::string result_path = config.run_dir + "/result.json";
      if (fs::exists(result_path)) {
        ++report.done_before;
        continue;
      }
      spdlog::info("opd-bench: row '{}' seed {}: training ({} steps)", row.name, seed, config.steps);
      RowResult r;
      r.row = row.name;
      r.seed = seed;
      if (!suite.sweep.empty()) r.sweep_value = resolved_value(config, suite.sweep);
      auto t0 = std::chrono::steady_clock::now();
      {
        train::Trainer trainer(config);
        const auto checkpoint = train::latest_checkpoint(config.run_dir);
        if (!checkpoint.empty()) trainer.resume(checkpoint);
        if (trainer.run().stopped) {
          report.stopped = true;
          return report;
        }
      }
      r.train_seconds = seconds_since(t0);
      r.last_step = last_metrics(config.run_dir + "/metrics.jsonl");
      t0 = std::chrono::steady_clock::now();
      r.splits = evaluate_model(suite, config.run_dir + "/final", seed);
      r.eval_seconds = seconds_since(t0);
      write_file_atomically(result_path, row_result_json(r));
      ++report.trained;
      spdlog::info("opd-bench: row '{}' seed {}: {} avg@{} {:.3f} ({:.0f} s training)", row.name, seed,
                   suite.eval.splits.front().first, suite.eval.k,
                   r.splits.begin()->second.rows.front().avg_at_k, r.train_seconds);
    }
  }
  return report;
}

std::vector<RowResult> read_results(const Suite& suite) {
  std::vector<RowResult> results;
  auto read = [&](const std::string& path) {
    if (fs::exists(path)) results.push_back(parse_row_result(read_text_file(path), path));
  };
  for (const auto& base : suite.baselines) read(baseline_dir(suite, base.name) + "/result.json");
  for (const auto& row : suite.rows) {
    for (const auto seed : suite.seeds) read(row_dir(suite, row.name, seed) + "/result.json");
  }
  return results;
}

std::string write_tables(const Suite& suite) {
  const auto results = read_results(suite);
  const auto table = make_results_table(suite, results);
  auto markdown = results_markdown(table, suite);
  nlohmann::json claims = nlohmann::json::array();
  if (suite.gate || !suite.claims.empty()) {
    GateCurves gate_curves;
    if (suite.gate) {
      for (const auto seed : suite.seeds) {
        const std::string metrics = row_dir(suite, suite.gate->row, seed) + "/metrics.jsonl";
        gate_curves.divergence[seed] = metric_curve(metrics, suite.gate->metric);
        gate_curves.split_cosine[seed] = metric_curve(metrics, "grad_split_cosine");
      }
    }
    const auto verdicts = make_verdicts(suite, results, gate_curves);
    markdown += verdicts_markdown(verdicts, suite);
    for (const auto& c : verdicts.claims) {
      claims.push_back({{"name", c.claim.name}, {"verdict", verdict_name(c.verdict)}, {"seeds", c.difference.n},
                        {"difference", c.difference.mean}});
    }
  }
  fs::create_directories(suite.out_dir);
  write_file_atomically(suite.out_dir + "/results.md", markdown);
  write_file_atomically(suite.out_dir + "/results.csv", results_csv(table));
  nlohmann::json summary;
  summary["title"] = table.title;
  summary["sweep"] = table.sweep;
  summary["curves"] = suite.curves;
  summary["claims"] = claims;
  summary["columns"] = nlohmann::json::array();
  for (const auto& c : table.columns) summary["columns"].push_back(c.header());
  summary["rows"] = nlohmann::json::array();
  for (const auto& line : table.lines) {
    nlohmann::json row{{"name", line.row}, {"baseline", line.baseline}, {"sweep_value", line.sweep_value}};
    row["mean"] = nlohmann::json::array();
    row["std"] = nlohmann::json::array();
    for (const auto& cell : line.cells) {
      row["mean"].push_back(cell.n ? nlohmann::json(cell.mean) : nlohmann::json());
      row["std"].push_back(cell.n ? nlohmann::json(cell.std) : nlohmann::json());
    }
    row["run_dirs"] = nlohmann::json::array();
    if (!line.baseline) {
      for (const auto seed : suite.seeds) row["run_dirs"].push_back(row_dir(suite, line.row, seed));
    }
    summary["rows"].push_back(row);
  }
  write_file_atomically(suite.out_dir + "/summary.json", summary.dump(1) + "\n");
  return markdown;
}

}  // namespace opd::paper
