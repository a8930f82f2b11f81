// Prompt + response ids -> the right-padded RolloutBatch of DESIGN §3. The
// generator packs its samples with it; the trainer packs dataset solutions,
// teacher generations and refinements with it.
#pragma once

#include "opd/core/rollout_batch.h"

#include <cstdint>
#include <vector>

namespace opd::rollout {

// Row b is prompts[b] followed by responses[b], right padded with
// `pad_token_id`. Response tokens get `source` and loss_mask 1, prompt and pad
// tokens source kPromptOrPad and loss_mask 0. Throws when the sizes differ or
// a prompt is empty (an empty response is allowed: the row trains nothing).
RolloutBatch pack_sequences(const std::vector<std::vector<int64_t>>& prompts,
                            const std::vector<std::vector<int64_t>>& responses, TokenSource source,
                            int64_t pad_token_id = 0);

// A response written in parts by different writers, e.g. a teacher prefix
// (kTeacherPrefix) and the student's continuation (kStudent): row b's
// response is parts[0].ids[b] + parts[1].ids[b] + ..., each token labelled
// with its part's source. logprobs, when given for every part, fill the
// batch's sampler_logprobs.
struct ResponsePart {
  std::vector<std::vector<int64_t>> ids;
  TokenSource source;
  std::vector<std::vector<float>> logprobs;  // per token, or empty
};
RolloutBatch pack_parts(const std::vector<std::vector<int64_t>>& prompts, const std::vector<ResponsePart>& parts,
                        int64_t pad_token_id = 0);

// The sampler log-probs of each row's response (from batch.sampler_logprobs).
std::vector<std::vector<float>> response_logprobs(const RolloutBatch& batch);

// The response ids of each row: response_lengths[b] tokens after prompt_lengths[b].
std::vector<std::vector<int64_t>> response_ids(const RolloutBatch& batch);

}  // namespace opd::rollout
