#include "opd/train/answer_evaluation.h"

#include "opd/rollout/generation_settings.h"
#include "opd/rollout/sequence_packing.h"
#include "opd/train/prompt_formats.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>

namespace opd::train {

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
  AnswerEvalResult result;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t first = 0; first < problems; first += per_chunk) {
    const int64_t last = std::min(problems, first + per_chunk);
    std::vector<std::vector<int64_t>> prompts;
    for (int64_t i = first; i < last; ++i) {
      for (int64_t s = 0; s < k; ++s) prompts.push_back(dataset[i].ids);
    }
    generation.first_row = first * k;
    const auto rollout = rollout::generate(model, prompts, generation);
    const auto responses = rollout::response_ids(rollout);
    result.generated_tokens += rollout.response_lengths.sum().item<int64_t>();
    for (int64_t i = first; i < last; ++i) {
      eval::ProblemOutcome o{dataset[i].line, dataset[i].domain, k, 0};
      for (int64_t s = 0; s < k; ++s) {
        const auto text = format.tokenizer->decode(responses[static_cast<size_t>((i - first) * k + s)], true);
        o.correct += verifier.correct(text, dataset[i].answer);
      }
      result.outcomes.push_back(o);
    }
    if (progress) progress(last, problems);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace opd::train
