#include "opd/objectives/objective_config.h"

#include "opd/core/join.h"

#include <c10/util/Exception.h>

#include <cmath>

namespace opd {
namespace {

constexpr ObjectiveKind kAllKinds[] = {
    ObjectiveKind::kSft,     ObjectiveKind::kOpd,        ObjectiveKind::kGopd,
    ObjectiveKind::kFkl,     ObjectiveKind::kJsd,        ObjectiveKind::kEntropyOpd,
    ObjectiveKind::kEopd,    ObjectiveKind::kReopold,    ObjectiveKind::kMask,
    ObjectiveKind::kTropd,   ObjectiveKind::kTrd,        ObjectiveKind::kFklFull,
    ObjectiveKind::kRklFull, ObjectiveKind::kSum,
};

// The PG modifiers (policy_gradient.h) followed by the objective's own keys.
std::vector<std::string> with_pg(std::vector<std::string> own) {
  std::vector<std::string> keys = {"lambda", "reference", "entropy_rho", "switch_step"};
  keys.insert(keys.end(), own.begin(), own.end());
  return keys;
}

}  // namespace

const char* objective_name(ObjectiveKind kind) {
  switch (kind) {
    case ObjectiveKind::kSft: return "sft";
    case ObjectiveKind::kOpd: return "opd";
    case ObjectiveKind::kGopd: return "gopd";
    case ObjectiveKind::kFkl: return "fkl";
    case ObjectiveKind::kJsd: return "jsd";
    case ObjectiveKind::kEntropyOpd: return "entropy_opd";
    case ObjectiveKind::kEopd: return "eopd";
    case ObjectiveKind::kReopold: return "reopold";
    case ObjectiveKind::kMask: return "mask";
    case ObjectiveKind::kTropd: return "tropd";
    case ObjectiveKind::kTrd: return "trd";
    case ObjectiveKind::kFklFull: return "fkl_full";
    case ObjectiveKind::kRklFull: return "rkl_full";
    case ObjectiveKind::kSum: return "sum";
  }
  TORCH_INTERNAL_ASSERT(false, "unknown ObjectiveKind ", static_cast<int>(kind));
}

std::vector<std::string> objective_names() {
  std::vector<std::string> names;
  for (ObjectiveKind k : kAllKinds) names.emplace_back(objective_name(k));
  return names;
}

ObjectiveKind objective_kind_from_name(const std::string& name, const std::string& where) {
  for (ObjectiveKind k : kAllKinds) {
    if (name == objective_name(k)) return k;
  }
  TORCH_CHECK(false, where, " must be one of: ", join(objective_names()), "; got '", name, "'");
}

const char* outlier_variant_name(OutlierVariant v) {
  switch (v) {
    case OutlierVariant::kFkl: return "fkl";
    case OutlierVariant::kMask: return "mask";
    case OutlierVariant::kClip: return "clip";
  }
  TORCH_INTERNAL_ASSERT(false, "unknown OutlierVariant");
}

const char* loss_normalization_name(LossNormalization n) {
  switch (n) {
    case LossNormalization::kToken: return "token";
    case LossNormalization::kSequence: return "sequence";
  }
  TORCH_INTERNAL_ASSERT(false, "unknown LossNormalization");
}

const char* sft_targets_name(SftTargets t) {
  switch (t) {
    case SftTargets::kTeacher: return "teacher";
    case SftTargets::kDataset: return "dataset";
  }
  TORCH_INTERNAL_ASSERT(false, "unknown SftTargets");
}

const std::vector<std::string>& objective_option_keys(ObjectiveKind kind) {
  static const std::vector<std::string> sft = {"targets"};
  static const std::vector<std::string> pg = with_pg({});
  static const std::vector<std::string> fkl = {"top_k", "renormalize"};
  static const std::vector<std::string> jsd = {"beta", "top_k"};
  static const std::vector<std::string> eopd = with_pg({"top_k", "entropy_threshold", "alpha"});
  static const std::vector<std::string> reopold = with_pg({"reward_floor"});
  static const std::vector<std::string> mask = with_pg({"mask_threshold"});
  static const std::vector<std::string> tropd =
      with_pg({"outlier", "top_k", "reward_floor", "prefix_beta"});
  static const std::vector<std::string> full_vocab = {"kl_clip", "support_k"};
  static const std::vector<std::string> sum = {"terms"};
  switch (kind) {
    case ObjectiveKind::kSft: return sft;
    case ObjectiveKind::kOpd:
    case ObjectiveKind::kGopd:
    case ObjectiveKind::kEntropyOpd: return pg;
    case ObjectiveKind::kFkl: return fkl;
    case ObjectiveKind::kJsd: return jsd;
    case ObjectiveKind::kEopd: return eopd;
    case ObjectiveKind::kReopold: return reopold;
    case ObjectiveKind::kMask: return mask;
    case ObjectiveKind::kTropd: return tropd;
    case ObjectiveKind::kTrd:
    case ObjectiveKind::kFklFull:
    case ObjectiveKind::kRklFull: return full_vocab;
    case ObjectiveKind::kSum: return sum;
  }
  TORCH_INTERNAL_ASSERT(false, "unknown ObjectiveKind");
}

ObjectiveConfig default_objective_config(ObjectiveKind kind) {
  ObjectiveConfig c;
  c.kind = kind;
  switch (kind) {
    case ObjectiveKind::kGopd: c.lambda = 1.25; break;        // ExOPD (G-OPD paper)
    case ObjectiveKind::kEntropyOpd: c.entropy_rho = 0.2; break;
    case ObjectiveKind::kEopd: c.top_k = 32; break;           // EOPD uses k = 16..32
    default: break;
  }
  return c;
}

void validate_objective_config(const ObjectiveConfig& c, const std::string& where) {
  const std::string at = where.empty() ? "objective." : where + ".";
  const auto& keys = objective_option_keys(c.kind);
  auto accepts = [&](const char* key) {
    for (const auto& k : keys) {
      if (k == key) return true;
    }
    return false;
  };
  if (accepts("lambda")) {
    TORCH_CHECK(std::isfinite(c.lambda) && c.lambda > 0, at, "lambda must be > 0, got ", c.lambda);
    TORCH_CHECK(c.reference.empty() || c.lambda != 1.0, at,
                "reference is set but lambda = 1 uses no reference model (set lambda, or drop "
                "reference)");
  }
  if (accepts("entropy_rho")) {
    const bool required = c.kind == ObjectiveKind::kEntropyOpd;
    TORCH_CHECK(c.entropy_rho <= 1 && (required ? c.entropy_rho > 0 : c.entropy_rho >= 0), at,
                "entropy_rho must be in ", required ? "(0, 1]" : "[0, 1]", ", got ", c.entropy_rho);
    TORCH_CHECK(c.switch_step >= 0, at, "switch_step must be >= 0, got ", c.switch_step);
  }
  if (accepts("top_k")) TORCH_CHECK(c.top_k >= 1, at, "top_k must be >= 1, got ", c.top_k);
  if (accepts("beta")) {
    TORCH_CHECK(c.beta > 0 && c.beta < 1, at, "beta must be in (0, 1), got ", c.beta);
  }
  if (accepts("entropy_threshold")) {
    TORCH_CHECK(c.entropy_threshold >= 0, at, "entropy_threshold must be >= 0, got ",
                c.entropy_threshold);
    TORCH_CHECK(c.alpha >= 0, at, "alpha must be >= 0, got ", c.alpha);
  }
  if (accepts("reward_floor")) {
    TORCH_CHECK(std::isfinite(c.reward_floor), at, "reward_floor must be finite, got ", c.reward_floor);
  }
  if (accepts("mask_threshold")) {
    TORCH_CHECK(std::isfinite(c.mask_threshold), at, "mask_threshold must be finite, got ",
                c.mask_threshold);
  }
  if (accepts("prefix_beta")) {
    TORCH_CHECK(c.prefix_beta >= 0, at, "prefix_beta must be >= 0, got ", c.prefix_beta);
  }
  if (accepts("kl_clip")) {
    TORCH_CHECK(c.kl_clip >= 0, at, "kl_clip must be >= 0 (0 = off), got ", c.kl_clip);
    TORCH_CHECK(c.support_k >= 0, at, "support_k must be >= 0 (0 = whole vocabulary), got ",
                c.support_k);
  }
  if (c.kind == ObjectiveKind::kSum) {
    TORCH_CHECK(!c.terms.empty(), at, "terms must list at least one objective");
    for (size_t i = 0; i < c.terms.size(); ++i) {
      const std::string term = at + "terms[" + std::to_string(i) + "]";
      const auto& t = c.terms[i];
      TORCH_CHECK(t.objective.kind != ObjectiveKind::kSum, term, ".name: a sum cannot nest a sum");
      TORCH_CHECK(std::isfinite(t.weight) && t.weight > 0, term, ".weight must be > 0, got ",
                  t.weight);
      validate_objective_config(t.objective, term);
    }
  } else {
    TORCH_CHECK(c.terms.empty(), at, "terms is only an option of sum");
  }
}

}  // namespace opd
