// Which objective a run trains with, and its options (DESIGN §4). Read from
// the `objective:` block of a recipe; every field below is a YAML key of that
// block, and each objective accepts only the keys listed by
// objective_option_keys (so `beta` on `opd` is an error, not ignored).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace opd {

// One entry per method; a switch over this without `default:` makes a new
// method a compile error until it is wired everywhere.
enum class ObjectiveKind {
  kSft,         // -s on teacher-written (SeqKD) or dataset tokens
  kOpd,         // PG surrogate, A = tau - s
  kGopd,        // PG surrogate, A = (tau - s) + (lambda - 1)(tau - r); ExOPD when lambda > 1
  kFkl,         // teacher top-k forward KL
  kJsd,         // generalised JSD: top-k term + PG surrogate against the mixture
  kEntropyOpd,  // opd on the top-rho student-entropy tokens
  kEopd,        // opd + alpha * fkl where the teacher entropy exceeds h
  kReopold,     // PG surrogate, A = max(tau - s, c); optional two-stage entropy selection
  kMask,        // PG surrogate, A = 1[tau - s > c] (tau - s)
  kTropd,       // Bernoulli trust region + outlier estimator + teacher-prefix guidance
  kTrd,         // full-vocab forward KL on refined tokens
  kFklFull,     // full-vocab forward KL on student tokens
  kRklFull,     // full-vocab reverse KL on student tokens
  kSum,         // weighted sum of `terms`
};

// What TrOPD does with a student token outside the trust region.
enum class OutlierVariant {
  kFkl,   // teacher top-k forward KL (the paper's TrOPD)
  kMask,  // nothing
  kClip,  // PG surrogate with the advantage floored at `reward_floor`
};

// How a step's per-token losses are averaged (DESIGN §3); the trainer turns
// this into ObjectiveInputs::token_weight, so it is the same for every objective.
enum class LossNormalization {
  kToken,     // sum over all loss tokens of the step / their global count
  kSequence,  // mean over each sequence's loss tokens, then mean over sequences
};

// Where `sft` takes its tokens.
enum class SftTargets {
  kTeacher,  // the teacher writes the response (SeqKD)
  kDataset,  // the dataset's reference solutions (`response_ids`)
};

struct WeightedObjective;

struct ObjectiveConfig {
  ObjectiveKind kind = ObjectiveKind::kOpd;  // YAML `name`
  LossNormalization normalization = LossNormalization::kToken;  // token | sequence

  // Policy-gradient modifiers, accepted by every PG objective.
  double lambda = 1.0;     // reward scale of G-OPD; != 1 needs reference log-probs
  std::string reference;   // reference model dir for r; "" = the student's initial weights
  double entropy_rho = 0;  // > 0 trains only the top-rho student-entropy tokens (0 = all)
  int64_t switch_step = 0;  // entropy selection applies from this step on (REOPOLD 2-stage)

  // Teacher top-k (fkl, jsd, eopd, tropd).
  int64_t top_k = 64;
  bool renormalize = false;  // fkl: renormalise both distributions on the top-k

  double beta = 0.5;               // jsd mixture weight of the teacher
  double entropy_threshold = 0.8;  // eopd: h, in nats
  double alpha = 1.0;              // eopd: weight of the gated fkl term
  double reward_floor = -1.6;      // reopold, tropd clip: c = log(q / (1 - q)), q = 0.17
  double mask_threshold = -1.6;    // mask: tokens with tau - s <= c get no gradient
  OutlierVariant outlier = OutlierVariant::kFkl;  // tropd
  double prefix_beta = 0.001;      // tropd: weight of -s on teacher-prefix tokens

  // Full-vocabulary divergences (trd, fkl_full, rkl_full).
  double kl_clip = 0;     // > 0 caps each token's KL (no gradient above it)
  int64_t support_k = 0;  // > 0 restricts both softmaxes to the teacher's top-k, renormalised

  SftTargets sft_targets = SftTargets::kTeacher;  // YAML `targets`: teacher | dataset

  // sum: [{weight: 1.0, name: opd, ...}, ...]; the sum's normalization applies
  // to the whole step, a term's own is ignored.
  std::vector<WeightedObjective> terms;
};

struct WeightedObjective {
  double weight = 1.0;
  ObjectiveConfig objective;
};

// "opd" <-> kOpd. Throws naming `where` and the allowed names.
ObjectiveKind objective_kind_from_name(const std::string& name, const std::string& where);
const char* objective_name(ObjectiveKind kind);
// Every objective name, in enum order.
std::vector<std::string> objective_names();

const char* outlier_variant_name(OutlierVariant v);
const char* loss_normalization_name(LossNormalization n);
const char* sft_targets_name(SftTargets t);

// The YAML keys `kind` accepts besides `name` and `normalization`.
const std::vector<std::string>& objective_option_keys(ObjectiveKind kind);

// The defaults of `kind` (e.g. entropy_opd: entropy_rho = 0.2, gopd: lambda = 1.25).
ObjectiveConfig default_objective_config(ObjectiveKind kind);

// Range and consistency checks that do not depend on YAML (lambda > 0, k >= 1,
// rho in (0, 1], sum terms present and not nested, ...). Throws one line naming
// `where` + "." + the key, e.g. "recipe.yaml: objective.lambda must be > 0".
void validate_objective_config(const ObjectiveConfig& config, const std::string& where);

}  // namespace opd
