// opd-eval: samples k answers per problem from a model with the rollout
// engine (or reads answers generated elsewhere, --answers), verifies each
// against the problem's reference answer, and reports avg@k and pass@j
// (unbiased) overall and per domain, as a table and as JSON with the model,
// the sampling settings and every response.
//   opd-eval --model DIR --data test.jsonl --k 8 --pass-at 1,8
//            [--chat-template qwen3] [--verifier math_boxed] [--out results.json]
//   opd-eval --answers generated.jsonl --data test.jsonl --pass-at 1,8
#include "cli_main.h"
#include "model_options.h"
#include "sampling_options.h"
#include "opd/core/atomic_file.h"
#include "opd/data/prompt_dataset.h"
#include "opd/eval/eval_report.h"
#include "opd/eval/verifier.h"
#include "opd/model/pretrained.h"
#include "opd/train/answer_evaluation.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <sstream>

int main(int argc, char** argv) {
  CLI::App app{"Evaluate a model: k sampled answers per problem, verified; avg@k and pass@k per domain."};
  opd::tools::standard_flags(app);
  opd::tools::ModelOptions model_options;
  std::string data_path, verifier_name = "math_boxed", out_path, pass_at = "1";
  int64_t k = 4, batch = 32, limit = 0;
  opd::rollout::GenerationConfig generation;
  generation.max_new_tokens = 512;
  generation.sampling.temperature = 0.6;
  generation.sampling.top_p = 0.95;
  std::string answers_path;
  opd::tools::add_model_options(app, model_options, "HF model directory (with its tokenizer)", /*required=*/false);
  app.add_option("--answers", answers_path,
                 "score answers generated elsewhere instead: JSONL of {\"index\": <problem>, \"response\": <text>} "
                 "(opd-generate's output), the same number for every problem")
      ->excludes("--model");
  app.add_option("--data", data_path, "problems: JSONL with an 'answer' on every line, or opd-prepare's .h5")
      ->required();
  app.add_option("--k", k, "samples per problem")->check(opd::tools::positive());
  app.add_option("--pass-at", pass_at, "comma-separated j of the pass@j to report, each <= k");
  app.add_option("--verifier", verifier_name, "math_boxed | exact_match");
  opd::tools::add_sampling_options(app, generation);
  app.add_option("--batch", batch, "sequences generated together (a multiple of k is best)")
      ->check(opd::tools::positive());
  app.add_option("--limit", limit, "evaluate only the first N problems (0 = all)")->check(opd::tools::non_negative());
  app.add_option("--out", out_path, "write the report as JSON here");
  if (auto code = opd::tools::parse_flags("opd-eval", app, argc, argv)) return *code;

  return opd::tools::run_main("opd-eval", [&] {
    using namespace opd;
    std::vector<int64_t> pass_ks;
    std::stringstream list(pass_at);
    for (std::string item; std::getline(list, item, ',');) {
      int64_t j = 0;
      const auto [end, err] = std::from_chars(item.data(), item.data() + item.size(), j);
      TORCH_CHECK(err == std::errc() && end == item.data() + item.size() && j >= 1, "--pass-at ", pass_at, ": '", item,
                  "' is not a positive integer (e.g. --pass-at 1,8)");
      pass_ks.push_back(j);
    }
    const auto verifier = eval::make_verifier(verifier_name);
    TORCH_CHECK(!model_options.spec.path.empty() || !answers_path.empty(),
                "give --model DIR to sample answers, or --answers FILE to score answers generated elsewhere");
    nlohmann::json about = {{"data", data_path}, {"verifier", verifier_name}};
    train::AnswerEvalResult result;
    if (!answers_path.empty()) {
      const auto dataset = data::PromptDataset::answers_from_file(data_path);
      result = train::score_answers(dataset, *verifier, answers_path, limit);
      k = result.outcomes.front().samples;
      about["answers"] = answers_path;
    } else {
      auto [model, format] = tools::load_model(model_options);
      TORCH_CHECK(format.tokenizer, "opd-eval reads answers as text: '", model_options.spec.path,
                  "' has no tokenizer.json or tokenizer.model");
      const auto dataset = data::PromptDataset::from_file(data_path, &format);
      train::AnswerEvalOptions options{k, batch, limit, generation};
      const int64_t problems = limit > 0 ? std::min(limit, dataset.size()) : dataset.size();
      tools::Progress progress("problems", problems);
      result = train::evaluate_answers(model, format, dataset, *verifier, options,
                                       [&](int64_t done, int64_t) { progress.update(done); });
      progress.finish();
      const auto& s = generation.sampling;
      about["model"] = {{"path", model_options.spec.path}, {"dtype", config::choice_name(model_options.spec.dtype)},
                        {"device", model->device().str()}, {"chat_template", model_options.spec.chat_template},
                        {"system_prompt", model_options.data.system_prompt},
                        {"enable_thinking", model_options.data.enable_thinking}};
      about["sampling"] = {{"temperature", s.temperature}, {"top_k", s.top_k},       {"top_p", s.top_p},
                           {"min_p", s.min_p},             {"max_new_tokens", generation.max_new_tokens},
                           {"seed", generation.seed}};
    }
    const auto& outcomes = result.outcomes;
    const auto report = eval::summarize(outcomes, k, pass_ks);
    std::printf("%s", eval::report_table(report).c_str());
    if (answers_path.empty()) {
      std::printf("%lld samples, %lld generated tokens in %.1f s (%.0f tokens/s)\n",
                  static_cast<long long>(outcomes.size()) * k, static_cast<long long>(result.generated_tokens),
                  result.seconds, double(result.generated_tokens) / std::max(result.seconds, 1e-9));
    }
    if (!out_path.empty()) {
      const auto parent = std::filesystem::path(out_path).parent_path();
      if (!parent.empty()) std::filesystem::create_directories(parent);
      write_file_atomically(out_path, eval::report_json(report, outcomes, about.dump(), result.samples) + "\n");
    }
    return 0;
  });
}
