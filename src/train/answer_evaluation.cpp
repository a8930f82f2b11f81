#include "opd/train/answer_evaluation.h"

#include "opd/rollout/generation_settings.h"
#include "opd/rollout/sequence_packing.h"
#include "opd/train/prompt_formats.h"

#include <c10/util/Exception.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>

namespace opd::train {
namespace {

// Verifies a problem's sample texts against its answer: its outcome and samples, added to `result`.
void add_verified(AnswerEvalResult& result, const data::Prompt& problem, std::vector<std::string> texts,
                  const eval::Verifier& verifier) {
  eval::ProblemOutcome o{problem.line, problem.domain, static_cast<int64_t>(texts.size()), 0};
  std::vector<eval::SampleVerdict> samples;
  for (auto& text : texts) {
    const bool right = verifier.correct(text, problem.answer);
    o.correct += right;
    samples.push_back({std::move(text), right});
  }
  result.outcomes.push_back(o);
  result.samples.push_back(std::move(samples));
}

}  // namespace

AnswerEvalResult evaluate_answers(model::CausalLM& model, const data::PromptFormat& format,
                                  const data::PromptDataset& dataset, const eval::Verifier& verifier,
                                  AnswerEvalOptions options, const std::function<void(int64_t, int64_t)>& progress) {
  TORCH_CHECK(format.tokenizer, "evaluation reads answers as text: the model has no tokenizer");
  TORCH_CHECK(options.k > 0 && options.batch > 0, "evaluation: k and batch must be > 0");
  const int64_t problems = options.limit > 0 ? std::min(options.limit, dataset.size()) : dataset.size();
  for (int64_t i = 0; i < problems; ++i) {
    TORCH_CHECK(!dataset[i].answer.empty(), dataset.path(), ":", dataset[i].line, ": no 'answer' to verify against");
  }
  const int64_t k = options.k;
  auto& generation = options.generation;
  generation.stop_token_ids = rollout::stop_token_ids(model->config(), format);
  generation.vocab_limit = rollout::drawable_vocabulary(model->config(), format);
  const int64_t per_chunk = std::max<int64_t>(1, options.batch / k);
  const int64_t first_key = generation.first_row;  // the key of problem 0's first sample
  AnswerEvalResult result;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t first = 0; first < problems; first += per_chunk) {
    const int64_t last = std::min(problems, first + per_chunk);
    std::vector<std::vector<int64_t>> prompts;
    for (int64_t i = first; i < last; ++i) {
      for (int64_t s = 0; s < k; ++s) prompts.push_back(dataset[i].ids);
    }
    generation.first_row = first_key + first * k;
    const auto rollout = rollout::generate(model, prompts, generation);
    const auto responses = rollout::response_ids(rollout);
    result.generated_tokens += rollout.response_lengths.sum().item<int64_t>();
    for (int64_t i = first; i < last; ++i) {
      std::vector<std::string> texts;
      for (int64_t s = 0; s < k; ++s) {
        texts.push_back(format.tokenizer->decode(responses[static_cast<size_t>((i - first) * k + s)], true));
      }
      add_verified(result, dataset[i], std::move(texts), verifier);
    }
    if (progress) progress(last, problems);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

AnswerEvalResult score_answers(const data::PromptDataset& dataset, const eval::Verifier& verifier,
                               const std::string& answers_path, int64_t limit) {
  const int64_t problems = limit > 0 ? std::min(limit, dataset.size()) : dataset.size();
  std::ifstream in(answers_path);
  TORCH_CHECK(in.is_open(), "--answers: '", answers_path, "' cannot be opened");
  std::vector<std::vector<std::string>> answers(static_cast<size_t>(problems));
  int64_t line = 0;
  for (std::string text; std::getline(in, text);) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    TORCH_CHECK(j.is_object() && j.contains("index") && j["index"].is_number_integer() && j.contains("response") &&
                    j["response"].is_string(),
                answers_path, ":", line, ": expected {\"index\": <problem>, \"response\": <text>}");
    const int64_t index = j["index"].get<int64_t>();
    TORCH_CHECK(index >= 0 && index < dataset.size(), answers_path, ":", line, ": index ", index,
                " is not a problem of ", dataset.path(), " (", dataset.size(), " problems)");
    if (index < problems) answers[static_cast<size_t>(index)].push_back(j["response"].get<std::string>());
  }
  TORCH_CHECK(!answers[0].empty(), answers_path, ": no answer for problem 0 (", dataset.path(), ":", dataset[0].line,
              ")");
  const int64_t k = static_cast<int64_t>(answers[0].size());
  AnswerEvalResult result;
  for (int64_t i = 0; i < problems; ++i) {
    const auto& p = dataset[i];
    TORCH_CHECK(!p.answer.empty(), dataset.path(), ":", p.line, ": no 'answer' to verify against");
    auto& mine = answers[static_cast<size_t>(i)];
    TORCH_CHECK(static_cast<int64_t>(mine.size()) == k, answers_path, ": problem ", i, " (", dataset.path(), ":",
                p.line, ") has ", mine.size(), " answers, problem 0 has ", k, " (pass@k needs the same k for all)");
    add_verified(result, p, std::move(mine), verifier);
  }
  return result;
}

}  // namespace opd::train
