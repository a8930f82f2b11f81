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

// The response ids of each row: response_lengths[b] tokens after prompt_lengths[b].
std::vector<std::vector<int64_t>> response_ids(const RolloutBatch& batch);

}  // namespace opd::rollout
