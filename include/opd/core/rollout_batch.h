// The rollout batch of DESIGN §3: what the rollout produces and every
// objective consumes.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace opd {

// Who wrote a token (the `source` tensor, int8).
enum class TokenSource : int8_t {
  kPromptOrPad = 0,
  kTeacherPrefix = 1,  // off-policy guidance (TrOPD)
  kStudent = 2,        // on-policy
  kRefined = 3,        // TRD refinement
};

struct RolloutBatch {
  at::Tensor tokens;          // [B, T] int64, prompt + response, right padded
  at::Tensor attention_mask;  // [B, T] int64, 1 on real tokens
  at::Tensor position_ids;    // [B, T] int64
  at::Tensor loss_mask;       // [B, T] float, 1 on response tokens that train
  at::Tensor source;          // [B, T] int8, a TokenSource per token
  at::Tensor prompt_lengths;  // [B] int64
  at::Tensor response_lengths;  // [B] int64
  // [B, T] float: log-prob of each generated token under the distribution it
  // was sampled from (after temperature and filtering); 0 elsewhere, and
  // undefined for batches nothing sampled (dataset solutions).
  at::Tensor sampler_logprobs;

  int64_t batch_size() const { return tokens.size(0); }
  int64_t seq_len() const { return tokens.size(1); }
  // Rows [begin, end) as a batch sharing storage (micro-batching).
  RolloutBatch rows(int64_t begin, int64_t end) const;
  // The rows at `index` ([R] int64), in that order, as a copy of T columns.
  RolloutBatch select_rows(const at::Tensor& index) const;
};

}  // namespace opd
