#include "opd/rollout/generation_settings.h"

#include <algorithm>

namespace opd::rollout {

std::vector<int64_t> stop_token_ids(const model::ModelConfig& model, const data::PromptFormat& format) {
  auto ids = model.eos_token_ids;
  for (int64_t id : format.stop_ids()) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  return ids;
}

int64_t drawable_vocabulary(const model::ModelConfig& model, const data::PromptFormat& format) {
  if (!format.tokenizer) return 0;
  const int64_t n = format.tokenizer->vocab_size();
  return n < model.vocab_size ? n : 0;
}

int64_t vocab_limit_for_scorer(int64_t limit, int64_t model_vocab, int64_t scorer_vocab) {
  const int64_t drawable = std::min(limit > 0 ? limit : model_vocab, scorer_vocab);
  return drawable < model_vocab ? drawable : 0;
}

GenerationConfig generation_settings(const RolloutSampling& sampling, const model::ModelConfig& model,
                                     const data::PromptFormat& format, uint64_t seed, int64_t first_row) {
  GenerationConfig g;
  g.sampling = sampling.sampling;
  g.max_new_tokens = sampling.max_new_tokens;
  g.stop_token_ids = stop_token_ids(model, format);
  g.vocab_limit = drawable_vocabulary(model, format);
  g.seed = seed;
  g.first_row = first_row;
  return g;
}

}  // namespace opd::rollout
