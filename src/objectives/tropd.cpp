#include "opd/objectives/tropd.h"

#include "opd/core/rollout_batch.h"
#include "opd/objectives/advantage.h"
#include "opd/objectives/diagnostics.h"
#include "opd/objectives/estimators.h"
#include "opd/objectives/token_selection.h"
#include "opd/ops/topk_forward_kl.h"

namespace opd {
namespace {

// Student tokens after the first one outside the teacher's top-k in their
// row (a response's first error; the error itself is not after it).
at::Tensor after_first_error(const at::Tensor& student, const at::Tensor& targets, const at::Tensor& topk_ids) {
  const auto in_topk = (topk_ids.to(targets.device()) == targets.unsqueeze(-1)).any(-1);
  const auto error = (student > 0) & ~in_topk;
  const auto errors_so_far = error.to(at::kInt).cumsum(-1) - error.to(at::kInt);
  return student * (errors_so_far > 0).to(at::kFloat);
}

}  // namespace

ObjectiveNeeds TropdObjective::needs() const {
  ObjectiveNeeds n = options_.pg.needs();
  if (options_.outlier == OutlierVariant::kFkl) n.teacher_topk = options_.top_k;
  return n;
}

ObjectiveOutput TropdObjective::compute(const ObjectiveInputs& in) {
  ObjectiveOutput out;
  auto& m = out.metrics;
  const bool fkl_outliers = options_.outlier == OutlierVariant::kFkl;
  TORCH_CHECK(!fkl_outliers || (in.teacher_topk_ids.defined() &&
                                in.teacher_topk_ids.size(-1) == options_.top_k),
              "tropd: the teacher's top-", options_.top_k, " was not scored");
  // K1 on the sampled token and the FKL's top-k from one pass over the logits.
  auto t = objectives::policy_gradient_tokens(in, options_.pg, m, fkl_outliers);
  auto trusted = objectives::trust_region(t.log_ratio, t.student, in);
  auto outlier = t.student - trusted;
  // Entropy selection, when on, narrows the policy-gradient terms only.
  out.loss = objectives::policy_gradient_loss(t.advantage, t.s, in.token_weight * trusted * t.selected);

  // A response's student tokens after its first error, when the teacher's top-k was scored.
  const auto after = in.teacher_topk_ids.defined() ? after_first_error(t.student, in.targets, in.teacher_topk_ids)
                                                   : at::Tensor();
  at::Tensor fkl;  // variant fkl: each token's outlier KL (before any clip)
  switch (options_.outlier) {
    case OutlierVariant::kFkl: {
      // Renormalised: log q = log_softmax over the k log-probs (a row's log Z cancels).
      fkl = options_.renormalize
                ? ops::forward_kl_on_support(at::log_softmax(t.topk_logp, -1),
                                             at::log_softmax(in.teacher_topk_logp.to(at::kFloat), -1))
                : ops::forward_kl_on_support(t.topk_logp, in.teacher_topk_logp);
      if (options_.kl_clip > 0) {
        objectives::add_fraction(m, "fkl_outlier_clipped_fraction", fkl.detach() > options_.kl_clip, outlier);
      }
      const auto fkl_tokens = options_.fkl_after_first_error ? outlier : outlier * (t.student - after);
      out.loss = out.loss + objectives::weighted_loss(objectives::clip_per_token(fkl, options_.kl_clip),
                                                      in.token_weight * fkl_tokens);
      objectives::add_masked_mean(m, "fkl_outlier", fkl, outlier);
      break;
    }
    case OutlierVariant::kMask: break;
    case OutlierVariant::kClip: {
      auto clipped = objectives::floor_advantage(t.advantage, options_.reward_floor);
      out.loss = out.loss + objectives::policy_gradient_loss(
                                clipped, t.s, in.token_weight * outlier * t.selected);
      break;
    }
  }

  // Off-policy guidance: the K1 forward-KL estimate on teacher-written tokens.
  auto prefix = objectives::tokens_from(in, TokenSource::kTeacherPrefix);
  if (options_.prefix_beta > 0) {
    out.loss = out.loss + objectives::weighted_loss(-options_.prefix_beta * t.s, in.token_weight * prefix);
  }

  objectives::add_fraction(m, "trust_ratio", trusted, t.student);
  objectives::add_fraction(m, "outlier_fraction", outlier, t.student);
  objectives::add_valid_fraction(m, "outlier_valid_fraction", outlier, in);
  objectives::add_valid_fraction(m, "trusted_valid_fraction", trusted, in);
  objectives::add_masked_mean(m, "trust_probability", at::clamp_max(t.log_ratio, 0).exp(), t.student);
  objectives::add_masked_mean(m, "prefix_logprob", t.s, prefix);
  if (after.defined()) {  // the outliers before and after each response's first error
    const auto to = t.student - after;
    objectives::add_fraction(m, "outlier_fraction_to_first_error", outlier * to, to);
    objectives::add_fraction(m, "outlier_fraction_after_first_error", outlier * after, after);
    if (fkl.defined()) {
      objectives::add_masked_mean(m, "fkl_outlier_to_first_error", fkl, outlier * to);
      objectives::add_masked_mean(m, "fkl_outlier_after_first_error", fkl, outlier * after);
    }
  }
  return out;
}

}  // namespace opd
