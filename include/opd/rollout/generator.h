// Batched autoregressive generation with a preallocated KV cache over ragged
// prompts. Produces the RolloutBatch the objectives train on.
#pragma once

#include "opd/core/rollout_batch.h"
#include "opd/model/causal_lm.h"
#include "opd/rollout/sampling.h"

#include <vector>

namespace opd::rollout {

struct GenerationConfig {
  SamplingParams sampling;
  int64_t max_new_tokens = 64;         // e.g. 8192
  std::vector<int64_t> stop_token_ids; // e.g. the model's EOS ids; the stop token is kept
  int64_t pad_token_id = 0;            // fills tokens after a row's end
  bool use_cache = true;               // false recomputes the full sequence each step (reference)
  TokenSource source = TokenSource::kStudent;  // label of the generated tokens, e.g.
                                               // kTeacherPrefix when the teacher writes (SeqKD)
};

// Continues every prompt (each [L_b] ids) by up to max_new_tokens sampled
// tokens. Response tokens get source = config.source and loss_mask = 1 (the
// stop token included). Reproducible for a fixed generator state.
RolloutBatch generate(model::CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                      const GenerationConfig& config, at::Generator& generator);

}  // namespace opd::rollout
