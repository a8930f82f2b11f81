#include "opd/objectives/jsd.h"

#include "opd/core/rollout_batch.h"
#include "opd/objectives/diagnostics.h"
#include "opd/objectives/estimators.h"
#include "opd/objectives/student_logprobs.h"
#include "opd/objectives/token_selection.h"
#include "opd/ops/topk_forward_kl.h"

#include <cmath>

namespace opd {

ObjectiveNeeds JsdObjective::needs() const {
  ObjectiveNeeds n;
  n.teacher_logprobs = true;
  n.teacher_topk = top_k_;
  return n;
}

ObjectiveOutput JsdObjective::compute(const ObjectiveInputs& in) {
  TORCH_CHECK(in.teacher_logprobs.defined() && in.teacher_topk_ids.defined() &&
                  in.teacher_topk_ids.size(-1) == top_k_,
              "jsd: the teacher's log-probs and top-", top_k_, " were not scored");
  ObjectiveOutput out;
  auto student = objectives::tokens_from(in, TokenSource::kStudent);
  const double log_beta = std::log(beta_), log_rest = std::log1p(-beta_);

  // beta * sum_{v in TopK} p_T (log p_T - log m), m = beta p_T + (1 - beta) pi_S,
  // differentiable through pi_S on the k tokens.
  auto logp_t = in.teacher_topk_logp.to(at::kFloat);
  auto student_side = objectives::student_logprobs(in, /*topk=*/true, "jsd");
  const auto& logp_s = student_side.topk_logp;
  auto log_m = at::logaddexp(logp_t + log_beta, logp_s + log_rest);
  auto p_t = logp_t.exp();
  auto live = p_t > 0;  // p_T = 0 terms are 0, not 0 * -inf
  auto zero = at::zeros_like(p_t);
  auto divergence = (p_t * (at::where(live, logp_t, zero) - at::where(live, log_m, zero))).sum(-1);

  // PG surrogate against the mixture at the sampled token.
  const auto& s = student_side.s;
  auto tau = in.teacher_logprobs.to(at::kFloat);
  auto log_m_sampled = at::logaddexp(tau + log_beta, s.detach() + log_rest);
  auto advantage = (-(1 - beta_) * (s.detach() - log_m_sampled)).detach();

  out.loss = objectives::weighted_loss(beta_ * divergence, in.token_weight * student) +
             objectives::policy_gradient_loss(advantage, s, in.token_weight * student);

  objectives::add_source_counts(out.metrics, in);
  objectives::add_masked_mean(out.metrics, "jsd_topk", divergence, student);
  objectives::add_masked_mean(out.metrics, "advantage", advantage, student);
  objectives::add_masked_mean(out.metrics, "topk_mass", ops::topk_mass(in.teacher_topk_logp), student);
  objectives::add_kl_estimates(out.metrics, s, tau, student);
  objectives::add_student_entropy(out.metrics, student_side.entropy, student);
  return out;
}

}  // namespace opd
