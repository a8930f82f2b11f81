// TrOPD (Table 2 of the paper). On student tokens a Bernoulli trust region
// M_t ~ Bernoulli(min(exp(tau_t - s_t), 1)) splits the tokens:
//   trusted (M = 1): PG surrogate with the PG objectives' advantage (lambda applies);
//   outlier (M = 0): variant fkl  -> top-k forward KL (renormalize: both
//                                    distributions on the k ids; kl_clip > 0:
//                                    each token's KL capped, no gradient above;
//                                    fkl_after_first_error false: only up to a
//                                    response's first error),
//                    variant mask -> nothing,
//                    variant clip -> PG surrogate with max(A, reward_floor).
// On teacher-prefix tokens (source 1): l_t = -prefix_beta * s_t (the K1
// estimate of the forward KL on teacher samples).
#pragma once

#include "opd/objectives/objective.h"
#include "opd/objectives/objective_config.h"
#include "opd/objectives/policy_gradient.h"

#include <cstdint>

namespace opd {

struct TropdOptions {
  objectives::PolicyGradientOptions pg;
  OutlierVariant outlier = OutlierVariant::kFkl;
  int64_t top_k = 64;
  double reward_floor = -1.6;
  double prefix_beta = 0.001;
  bool renormalize = false;  // variant fkl: the KL of the renormalised top-k distributions
  double kl_clip = 0;        // variant fkl: > 0 caps each outlier's KL
  // Variant fkl: false leaves the outliers after a response's first error
  // (its first token outside the teacher's top-k) untrained, as mask does:
  // the teacher's distribution there follows a context it would not write.
  bool fkl_after_first_error = true;
};

class TropdObjective final : public Objective {
 public:
  explicit TropdObjective(TropdOptions options) : options_(options) {}
  std::string_view name() const override { return "tropd"; }
  ObjectiveNeeds needs() const override;
  // Adds trust_ratio and outlier_fraction (over student tokens), trust_probability
  // (mean min(exp(tau - s), 1)), fkl_outlier (variant fkl), prefix_logprob.
  // With the teacher's top-k scored, a response's first error is its first
  // student token outside that top-k: outlier_fraction and fkl_outlier are
  // also split into *_to_first_error (tokens up to and including it; all of
  // an error-free response) and *_after_first_error. With in.valid_tokens:
  // outlier_valid_fraction and trusted_valid_fraction, the fractions of each
  // region still on a correct solution (the premise that outliers carry
  // information is that many are valid).
  ObjectiveOutput compute(const ObjectiveInputs& in) override;

 private:
  TropdOptions options_;
};

}  // namespace opd
