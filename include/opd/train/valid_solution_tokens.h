// Which response tokens keep their response on a correct solution of its
// dataset row (data/solution_prefix.h): the premise metrics' "valid tokens"
// (TrOPD's outliers are informative only where they are valid).
#pragma once

#include "opd/core/rollout_batch.h"
#include "opd/data/prompt_dataset.h"
#include "opd/tokenizer/tokenizer.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace opd::train {

// Whether every line of `dataset` has a domain whose correct solutions are
// known (the synthetic tasks) and a reference solution.
bool knows_solutions(const data::PromptDataset& dataset);

// [B, T] float: 1 on a response token when the response through it is a
// prefix of some correct solution of dataset line rows[b] (a token that
// decodes to no text, such as the end of text, only right after a whole
// solution); 0 from the first token that is not, and on prompt and padding.
// Tokens are decoded one at a time (the synthetic tasks are ASCII).
at::Tensor valid_solution_tokens(const RolloutBatch& batch, const std::vector<int64_t>& rows,
                                 const data::PromptDataset& dataset, const tokenizer::Tokenizer& tokenizer);

}  // namespace opd::train
