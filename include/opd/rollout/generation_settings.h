// The generation settings of a run's rollouts: one recipe's sampling, and
// each model's own stop tokens.
#pragma once

#include "opd/data/prompt_format.h"
#include "opd/model/model_config.h"
#include "opd/rollout/generator.h"

#include <cstdint>
#include <vector>

namespace opd::rollout {

// What every rollout of a run shares.
struct RolloutSampling {
  SamplingParams sampling;
  int64_t max_new_tokens = 64;
};

// Where a model's replies end: its config.json EOS ids, then its chat
// template's end-of-turn tokens.
std::vector<int64_t> stop_token_ids(const model::ModelConfig& model, const data::PromptFormat& format);

// The ids a model may draw in `format` (GenerationConfig::vocab_limit): the
// tokenizer's size when the model's vocabulary is larger, else 0 (all).
int64_t drawable_vocabulary(const model::ModelConfig& model, const data::PromptFormat& format);

// `limit` (a vocab_limit, 0 = all of `model_vocab`) narrowed to the first
// `scorer_vocab` ids: a model that scores the samples has no logits past its
// vocabulary, so the sampler must not draw them.
int64_t vocab_limit_for_scorer(int64_t limit, int64_t model_vocab, int64_t scorer_vocab);

// `sampling` for `model` in `format`: its stop tokens and drawable ids, draws from `seed`
// keyed by global row first_row + b.
GenerationConfig generation_settings(const RolloutSampling& sampling, const model::ModelConfig& model,
                                     const data::PromptFormat& format, uint64_t seed, int64_t first_row);

}  // namespace opd::rollout
