// The shared part of every policy-gradient objective (opd, gopd, entropy_opd,
// reopold, mask, the trust term of tropd, the opd term of eopd): the student
// and teacher log-probs of the sampled tokens, G-OPD's advantage, and the
// entropy selection that any of them may switch on.
#pragma once

#include "opd/core/metrics.h"
#include "opd/objectives/objective.h"
#include "opd/objectives/objective_config.h"

#include <ATen/ATen.h>

namespace opd::objectives {

// The PG modifiers every PG objective accepts (objective_config.h).
struct PolicyGradientOptions {
  double lambda = 1.0;      // G-OPD reward scale; != 1 needs reference log-probs
  double entropy_rho = 0;   // > 0: only the top-rho student-entropy tokens train
  int64_t switch_step = 0;  // the selection applies from this step on

  static PolicyGradientOptions from(const ObjectiveConfig& c) {
    return {c.lambda, c.entropy_rho, c.switch_step};
  }
  // teacher_logprobs, plus reference_logprobs when lambda != 1.
  ObjectiveNeeds needs() const;
};

struct PolicyGradientTokens {
  at::Tensor s;          // log pi_S(y_t), fp32, differentiable in the student logits
  at::Tensor topk_logp;  // [B, T-1, K] log pi_S at the teacher's top-k ids (when asked), differentiable
  at::Tensor tau;        // log pi_T(y_t), fp32
  at::Tensor log_ratio;  // tau - s, detached
  at::Tensor advantage;  // distillation_advantage(tau, s, r, lambda), detached
  at::Tensor student;    // float mask: on-policy loss tokens
  at::Tensor selected;   // float mask: `student` after entropy selection (== student when off)
  at::Tensor entropy;    // detached student entropy per token
};

// Computes the above, the student side in one fused pass (student_logprobs.h;
// topk_logp too when `topk`), and adds the diagnostics every PG objective reports:
// source counts, kl_k1/kl_k3/student_logprob/teacher_logprob and
// student_entropy over the student tokens, reward_correction (mean tau - r)
// when lambda != 1, selected_fraction when the selection is on.
PolicyGradientTokens policy_gradient_tokens(const ObjectiveInputs& in,
                                            const PolicyGradientOptions& options, Metrics& m,
                                            bool topk = false);

}  // namespace opd::objectives
