// Sampled-answer evaluation: k answers per problem from the rollout engine,
// each verified against the problem's reference answer. opd-eval and the
// paper harness (opd-bench) both report from it.
#pragma once

#include "opd/data/prompt_dataset.h"
#include "opd/data/prompt_format.h"
#include "opd/eval/eval_report.h"
#include "opd/eval/verifier.h"
#include "opd/model/causal_lm.h"
#include "opd/rollout/generator.h"

#include <functional>
#include <vector>

namespace opd::train {

struct AnswerEvalOptions {
  int64_t k = 4;       // samples per problem
  int64_t batch = 32;  // sequences generated together (a multiple of k is best)
  int64_t limit = 0;   // only the first `limit` problems; 0 = all
  // Sampling, length cap and seed; stop ids are the model's EOS plus the
  // format's end of turn, set by evaluate_answers. Draws are keyed by sample
  // (generation.first_row + problem * k + s), so outcomes do not depend on
  // `batch`; a share of a larger set sets first_row to its first problem * k.
  rollout::GenerationConfig generation;
};

struct AnswerEvalResult {
  std::vector<eval::ProblemOutcome> outcomes;  // one per problem, in dataset order
  std::vector<std::vector<eval::SampleVerdict>> samples;  // each problem's samples, beside outcomes
  int64_t generated_tokens = 0;
  double seconds = 0;
};

// Throws naming the file and line of a problem without an answer, or when
// the format has no tokenizer. `progress(done, total)` is called after each chunk.
AnswerEvalResult evaluate_answers(model::CausalLM& model, const data::PromptFormat& format,
                                  const data::PromptDataset& dataset, const eval::Verifier& verifier,
                                  AnswerEvalOptions options,
                                  const std::function<void(int64_t, int64_t)>& progress = nullptr);

// The outcomes of answers generated elsewhere: `answers_path` is JSONL, a
// row per answer with its problem's "index" (0-based place in `dataset`, as
// opd-generate writes it) and its "response" text; every problem (the first
// `limit`; 0 = all) needs the same number k of them. Throws naming the file
// and line of a malformed row or an index outside the problems, and naming
// a problem with another number of answers.
AnswerEvalResult score_answers(const data::PromptDataset& dataset, const eval::Verifier& verifier,
                               const std::string& answers_path, int64_t limit = 0);

}  // namespace opd::train
