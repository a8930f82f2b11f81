// Which objective a run trains with, and its options (DESIGN §4). Read from
// the `objective:` block of a recipe; every option is declared once in
// OPD_OBJECTIVE_FIELDS, and each objective accepts only the keys of its
// ObjectiveSpec (so `beta` on `opd` is an error, not ignored).
#pragma once

#include "opd/core/config_schema.h"

#include <cstdint>
#include <optional>
#include <utility>
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
inline config::Choices<OutlierVariant> choices(OutlierVariant) {
  return {{OutlierVariant::kFkl, "fkl"}, {OutlierVariant::kMask, "mask"}, {OutlierVariant::kClip, "clip"}};
}

// How a step's per-token losses are averaged (DESIGN §3); the trainer turns
// this into ObjectiveInputs::token_weight, so it is the same for every objective.
enum class LossNormalization {
  kToken,     // sum over all loss tokens of the step / their global count
  kSequence,  // mean over each sequence's loss tokens, then mean over sequences
};
inline config::Choices<LossNormalization> choices(LossNormalization) {
  return {{LossNormalization::kToken, "token"}, {LossNormalization::kSequence, "sequence"}};
}

// Where `sft` takes its tokens.
enum class SftTargets {
  kTeacher,  // the teacher writes the response (SeqKD)
  kDataset,  // the dataset's reference solutions (`response_ids`)
};
inline config::Choices<SftTargets> choices(SftTargets) {
  return {{SftTargets::kTeacher, "teacher"}, {SftTargets::kDataset, "dataset"}};
}

struct WeightedObjective;

// Every option of every objective, X(type, member, key, default, check, doc)
// as in config_schema.h; which of them an objective accepts, and its own
// defaults, are its row in objective_specs().
#define OPD_OBJECTIVE_FIELDS(X)                                                                         \
  X(LossNormalization, normalization, "normalization", LossNormalization::kToken, any(),               \
    "how per-token losses are averaged: over the step's tokens, or per sequence then over sequences")  \
  X(double, lambda, "lambda", 1.0, above(0), "G-OPD reward scale; != 1 needs reference log-probs")     \
  X(std::string, reference, "reference", "", any(),                                                    \
    "reference model dir for r; \"\" = the student's initial weights")                                 \
  X(double, entropy_rho, "entropy_rho", 0.0, closed(0, 1),                                             \
    "> 0 trains only the top-rho student-entropy tokens; 0 = all")                                     \
  X(int64_t, switch_step, "switch_step", 0, at_least(0),                                               \
    "entropy selection applies from this step on (REOPOLD 2-stage)")                                  \
  X(int64_t, top_k, "top_k", 64, at_least(1), "teacher top-k tokens the divergence runs over")         \
  X(bool, renormalize, "renormalize", false, any(), "renormalise both distributions on the top-k")     \
  X(double, beta, "beta", 0.5, open(0, 1), "mixture weight of the teacher")                            \
  X(double, entropy_threshold, "entropy_threshold", 0.8, at_least(0),                                  \
    "h, in nats: the fkl term applies where the teacher's entropy exceeds it")                         \
  X(double, alpha, "alpha", 1.0, at_least(0), "weight of the gated fkl term")                          \
  X(double, reward_floor, "reward_floor", -1.6, any(), "c = log(q / (1 - q)), q = 0.17: the advantage floor") \
  X(double, mask_threshold, "mask_threshold", -1.6, any(), "tokens with tau - s <= c get no gradient") \
  X(OutlierVariant, outlier, "outlier", OutlierVariant::kFkl, any(),                                   \
    "what a token outside the trust region gets: top-k fkl, nothing, or a clipped advantage")          \
  X(double, prefix_beta, "prefix_beta", 0.001, at_least(0), "weight of -s on teacher-prefix tokens")   \
  X(double, kl_clip, "kl_clip", 0.0, at_least(0), "> 0 caps each token's KL (no gradient above it)")   \
  X(bool, fkl_after_first_error, "fkl_after_first_error", true, any(),                                 \
    "tropd fkl: also the outliers after a response's first token outside the teacher's top-k; false = up to it") \
  X(int64_t, support_k, "support_k", 0, at_least(0),                                                   \
    "> 0 restricts both softmaxes to the teacher's top-k, renormalised")                               \
  X(SftTargets, sft_targets, "targets", SftTargets::kTeacher, any(),                                   \
    "who wrote the tokens: the teacher (SeqKD) or the dataset's reference solutions")

struct ObjectiveConfig {
  ObjectiveKind kind = ObjectiveKind::kOpd;  // YAML `name`
  OPD_OBJECTIVE_FIELDS(OPD_CONFIG_MEMBER)
  // sum: [{weight: 1.0, name: opd, ...}, ...]; the sum's normalization applies
  // to the whole step, a term's own is ignored.
  std::vector<WeightedObjective> terms;
};

struct WeightedObjective {
  double weight = 1.0;
  ObjectiveConfig objective;
};

// One objective, declared once: its YAML name, what it trains, the option
// keys it accepts besides `name` and `normalization` (`terms` for sum), its
// own defaults over ObjectiveConfig's and any stricter check of an option.
struct ObjectiveSpec {
  ObjectiveKind kind;
  const char* name;
  const char* summary;
  std::vector<std::string> options;
  void (*defaults)(ObjectiveConfig&);
  std::vector<std::pair<std::string, config::Check>> checks;
};

// Every objective, in enum order.
const std::vector<ObjectiveSpec>& objective_specs();
const ObjectiveSpec& objective_spec(ObjectiveKind kind);

// Every option field (normalization first), as OPD_OBJECTIVE_FIELDS declares them.
const config::Schema<ObjectiveConfig>& objective_option_schema();
// The fields `kind` accepts: normalization, then its options in the order of
// its spec (not `terms`), with its own checks.
config::Schema<ObjectiveConfig> objective_schema(ObjectiveKind kind);

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

// The rules beyond a single value: a reference model needs lambda != 1; a
// sum has terms, none a sum; only a sum has terms. Returns the offending key
// (relative, e.g. "reference" or "terms[1].name") and the message after it,
// which names other keys under `path` (e.g. "objective.lambda"), or nothing.
// The reader calls it to point at the key's line.
std::optional<std::pair<std::string, std::string>> objective_rule_violation(const ObjectiveConfig& config,
                                                                           const std::string& path);

// Every value of `config` (and its terms) against objective_schema and the
// rules above, for configs built in code; the YAML reader checks the same
// declarations as it reads. Throws one line naming `where` + "." + the key,
// e.g. "recipe.yaml: objective.lambda must be > 0, got 0".
void validate_objective_config(const ObjectiveConfig& config, const std::string& where);

}  // namespace opd
