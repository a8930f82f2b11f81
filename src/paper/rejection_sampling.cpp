#include "opd/paper/rejection_sampling.h"

#include "opd/eval/verifier.h"
#include "opd/train/answer_evaluation.h"
#include "opd/train/prompt_formats.h"
#include "opd/train/run_resources.h"

#include <c10/util/Exception.h>

#include <set>

namespace opd::paper {

RejectionSamples sample_right_solutions(const Suite& suite, const std::string& model_dir,
                                        const std::string& problems_file,
                                        const std::vector<data::SyntheticProblem>& problems, int64_t samples,
                                        double temperature, uint64_t seed) {
  train::ModelSpec spec;
  spec.path = model_dir;
  spec.dtype = model::ComputeDtype::kFloat32;
  spec.chat_template = suite.chat_template;
  auto model = train::load_model(spec, suite.path + ": rejection sampling");
  model->eval();
  const auto format = train::load_prompt_format(spec, train::DataConfig{}, suite.path + ": chat_template");
  const auto dataset = data::PromptDataset::from_file(problems_file, &format);
  TORCH_CHECK(dataset.size() >= static_cast<int64_t>(problems.size()), problems_file, " holds ", dataset.size(),
              " problems, fewer than the ", problems.size(), " to sample");
  const auto verifier = eval::make_verifier(suite.eval.verifier);
  train::AnswerEvalOptions options;
  options.k = samples;
  options.batch = suite.eval.batch;
  options.limit = static_cast<int64_t>(problems.size());
  options.generation.max_new_tokens = suite.eval.max_new_tokens;
  options.generation.sampling.temperature = temperature;
  options.generation.seed = seed;
  const auto result = train::evaluate_answers(model, format, dataset, *verifier, options);
  RejectionSamples out;
  for (size_t i = 0; i < problems.size(); ++i) {
    TORCH_CHECK(dataset[static_cast<int64_t>(i)].answer == problems[i].answer, problems_file, " line ", i + 1,
                " is not the problem expected there");
    std::set<std::string> seen;
    for (const auto& s : result.samples[i]) {
      ++out.sampled;
      if (!s.correct) continue;
      ++out.right;
      if (!seen.insert(s.response).second) continue;
      auto kept = problems[i];
      kept.solution = s.response;
      out.kept.push_back(std::move(kept));
    }
  }
  return out;
}

}  // namespace opd::paper
