// Batched autoregressive generation with a preallocated KV cache over ragged
// prompts. Produces the RolloutBatch the objectives train on.
#pragma once

#include "opd/core/rollout_batch.h"
#include "opd/model/causal_lm.h"
#include "opd/ops/sample_tokens.h"

#include <cstdint>
#include <vector>

namespace opd::rollout {

using ops::SamplingParams;

struct GenerationConfig {
  SamplingParams sampling;
  int64_t max_new_tokens = 64;                // e.g. 8192
  std::vector<int64_t> row_max_new_tokens;    // per-row caps (each <= max_new_tokens); empty = none
  std::vector<int64_t> stop_token_ids;        // e.g. the model's EOS ids; the stop token is kept
  std::vector<std::vector<int64_t>> stop_sequences;  // multi-token stops, kept like stop tokens
  int64_t pad_token_id = 0;                   // fills tokens after a row's end
  // > 0: only ids below it are drawn: the tokenizer's size when the model's
  // vocabulary is padded past it (Qwen3: 151669 of 151936 rows), as HF's
  // generate never yields an id its tokenizer cannot decode; 0 = every id.
  int64_t vocab_limit = 0;
  bool use_cache = true;                      // false recomputes the full sequence each step (reference)
  TokenSource source = TokenSource::kStudent; // label of the generated tokens, e.g.
                                              // kTeacherPrefix when the teacher writes (SeqKD)
  // The draws: token i of row b uses the Philox uniform of (seed, i,
  // first_row + b), so a row's sample does not depend on which other rows
  // share the batch (micro-batches, ranks, finished rows dropped). row_ids,
  // when given, name each row instead (rows of a larger batch split by
  // teacher keep their draws).
  uint64_t seed = 0;
  int64_t first_row = 0;
  std::vector<int64_t> row_ids;
};

// Continues every prompt (each [L_b] ids) by up to max_new_tokens sampled
// tokens; a row ends at its first stop token or stop sequence, or its cap.
// Finished rows stop costing compute (the batch shrinks as they finish).
// Response tokens get source = config.source and loss_mask = 1 (the stop
// included), and their sampler log-probs. Throws on an empty prompt, a cap
// above max_new_tokens, or a prompt + max_new_tokens beyond the model's positions.
RolloutBatch generate(model::CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                      const GenerationConfig& config);

// Whether a row's response (its generated ids, at most `cap` of them) ended
// on its own, by a stop token or stop sequence of `config` or short of its
// cap, rather than being cut at the cap ("stop" vs "length").
bool ended_on_its_own(const std::vector<int64_t>& response, int64_t cap, const GenerationConfig& config);

}  // namespace opd::rollout
