// The student's side of every token-level objective from one fused pass over
// its logits (ops/row_logprobs.h): the log-prob of the sampled token, the
// log-probs at the teacher's top-k ids when an objective has an FKL term, and
// the entropy its diagnostics report. One pass forward, one backward, however
// many of these the objective uses. Given hidden states and the lm_head
// instead of logits, the pass runs chunk by chunk (ops/linear_row_logprobs.h).
#pragma once

#include "opd/objectives/objective.h"

#include <ATen/ATen.h>

namespace opd::objectives {

struct StudentLogprobs {
  at::Tensor s;          // [B, T-1] log pi_S(y_t), differentiable
  at::Tensor topk_logp;  // [B, T-1, K] log pi_S at in.teacher_topk_ids, differentiable (when asked)
  at::Tensor entropy;    // [B, T-1] entropy of pi_S, detached
};

// Throws naming `objective` when topk is asked and the teacher's top-k was
// not scored.
StudentLogprobs student_logprobs(const ObjectiveInputs& in, bool topk, const char* objective);

}  // namespace opd::objectives
