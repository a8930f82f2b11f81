#include "opd/train/training_evaluation.h"

#include "opd/core/seed_streams.h"
#include "opd/core/stopwatch.h"
#include "opd/dist/communicator.h"
#include "opd/eval/eval_report.h"
#include "opd/eval/verifier.h"
#include "opd/train/answer_evaluation.h"

#include <fmt/format.h>

#include <algorithm>

namespace opd::train {
namespace {

// The report's rows as metrics: the overall row bare, each domain's under "<domain>/".
void add_report(Metrics& m, const eval::EvalReport& report) {
  for (const auto& row : report.rows) {
    const std::string prefix = row.domain == "all" ? "" : row.domain + "/";
    m.set(prefix + fmt::format("avg@{}", report.k), row.avg_at_k);
    for (const auto& [j, v] : row.pass_at) m.set(prefix + fmt::format("pass@{}", j), v);
  }
}

}  // namespace

bool evaluation_due(const EvalConfig& eval, int64_t steps_done, int64_t steps) {
  return steps_done == steps || (eval.every > 0 && steps_done > 0 && steps_done % eval.every == 0);
}

TrainingEvalResult evaluate_training(model::CausalLM& student, const data::PromptFormat& format,
                                     const data::PromptDataset& problems, const TrainConfig& config,
                                     dist::Communicator* comm) {
  const Stopwatch clock;
  const auto& e = config.eval;
  const int64_t n = e.limit > 0 ? std::min(e.limit, problems.size()) : problems.size();
  const int64_t rank = comm ? comm->rank() : 0, world = comm ? comm->world_size() : 1;
  const int64_t begin = rank * n / world, end = (rank + 1) * n / world;  // this rank's contiguous share

  AnswerEvalOptions options;
  options.k = e.k;
  options.batch = e.batch;
  auto& g = options.generation;
  g.sampling.temperature = e.temperature;
  g.sampling.top_p = e.top_p;
  g.max_new_tokens = e.max_new_tokens > 0 ? e.max_new_tokens : config.rollout.max_new_tokens;
  g.seed = draw_seed(config.seed, SeedStream::kAnswerEvaluation, 0);
  g.first_row = begin * e.k;
  const auto share = data::PromptDataset::from_prompts(
      std::vector<data::Prompt>(problems.prompts().begin() + begin, problems.prompts().begin() + end), problems.path());
  const auto verifier = eval::make_verifier(config::choice_name(e.verifier));
  student->eval();
  const auto mine = evaluate_answers(student, format, share, *verifier, options);

  // Each problem's correct count (zero outside this share), then the generated tokens, summed over ranks.
  std::vector<double> counts(static_cast<size_t>(n) + 1, 0.0);
  for (int64_t i = begin; i < end; ++i) counts[static_cast<size_t>(i)] = double(mine.outcomes[size_t(i - begin)].correct);
  counts.back() = double(mine.generated_tokens);
  if (comm) counts = comm->sum(std::move(counts), "evaluation counts");

  std::vector<eval::ProblemOutcome> outcomes;
  for (int64_t i = 0; i < n; ++i) {
    outcomes.push_back({problems[i].line, problems[i].domain, e.k, static_cast<int64_t>(counts[static_cast<size_t>(i)])});
  }
  std::vector<int64_t> pass_ks = {1};
  if (e.k > 1) pass_ks.push_back(e.k);
  TrainingEvalResult out;
  add_report(out.metrics, eval::summarize(outcomes, e.k, pass_ks));
  out.metrics.set("response_length", counts.back() / double(n * e.k));
  out.metrics.set("seconds", clock.seconds());
  for (size_t i = 0; i < mine.samples.size(); ++i) {
    for (const auto& s : mine.samples[i]) {
      if (static_cast<int64_t>(out.samples.size()) == e.log_samples) return out;
      out.samples.push_back({share[static_cast<int64_t>(i)].line, share[static_cast<int64_t>(i)].domain, s.response, s.correct});
    }
  }
  return out;
}

}  // namespace opd::train
