#include "opd/objectives/objective_config.h"

#include "opd/core/join.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <limits>
#include <sstream>

namespace opd {
namespace {

// The PG modifiers (policy_gradient.h) followed by the objective's own keys.
std::vector<std::string> with_pg(std::vector<std::string> own) {
  std::vector<std::string> keys = {"lambda", "reference", "entropy_rho", "switch_step"};
  keys.insert(keys.end(), own.begin(), own.end());
  return keys;
}

void shared_defaults(ObjectiveConfig&) {}

bool accepts(const ObjectiveSpec& spec, const std::string& key) {
  return std::find(spec.options.begin(), spec.options.end(), key) != spec.options.end();
}

// "must be >= 0, got 3" when `value` fails `check`, else "".
std::string value_violation(const config::Field<ObjectiveConfig>& f, const config::Value& value) {
  std::ostringstream got;
  double x = 0;
  switch (f.type) {
    case config::ValueType::kInteger: x = static_cast<double>(std::get<int64_t>(value)); got << std::get<int64_t>(value); break;
    case config::ValueType::kNumber: x = std::get<double>(value); got << x; break;
    default: return "";
  }
  if (f.check.range.contains(x)) return "";
  return " must be " + f.check.range.describe() + ", got " + got.str();
}

}  // namespace

const std::vector<ObjectiveSpec>& objective_specs() {
  using config::open_closed;
  static const std::vector<ObjectiveSpec> specs = {
      {ObjectiveKind::kSft, "sft", "-s on teacher-written (SeqKD) or dataset tokens", {"targets"}, shared_defaults, {}},
      {ObjectiveKind::kOpd, "opd", "PG surrogate, A = tau - s", with_pg({}), shared_defaults, {}},
      {ObjectiveKind::kGopd, "gopd", "PG surrogate, A = (tau - s) + (lambda - 1)(tau - r); ExOPD when lambda > 1",
       with_pg({}), [](ObjectiveConfig& c) { c.lambda = 1.25; } /* ExOPD (G-OPD paper) */, {}},
      {ObjectiveKind::kFkl, "fkl", "teacher top-k forward KL", {"top_k", "renormalize"}, shared_defaults, {}},
      {ObjectiveKind::kJsd, "jsd", "generalised JSD: top-k term + PG surrogate against the mixture",
       {"beta", "top_k"}, shared_defaults, {}},
      {ObjectiveKind::kEntropyOpd, "entropy_opd", "opd on the top-rho student-entropy tokens", with_pg({}),
       [](ObjectiveConfig& c) { c.entropy_rho = 0.2; }, {{"entropy_rho", open_closed(0, 1)}}},
      {ObjectiveKind::kEopd, "eopd", "opd + alpha * fkl where the teacher entropy exceeds h",
       with_pg({"top_k", "entropy_threshold", "alpha"}),
       [](ObjectiveConfig& c) { c.top_k = 32; } /* EOPD uses k = 16..32 */, {}},
      {ObjectiveKind::kReopold, "reopold", "PG surrogate, A = max(tau - s, c); optional two-stage entropy selection",
       with_pg({"reward_floor"}), shared_defaults, {}},
      {ObjectiveKind::kMask, "mask", "PG surrogate, A = 1[tau - s > c] (tau - s)", with_pg({"mask_threshold"}),
       shared_defaults, {}},
      {ObjectiveKind::kTropd, "tropd", "Bernoulli trust region + outlier estimator + teacher-prefix guidance",
       with_pg({"outlier", "top_k", "reward_floor", "prefix_beta", "renormalize", "kl_clip", "fkl_after_first_error"}), shared_defaults, {}},
      {ObjectiveKind::kTrd, "trd", "full-vocab forward KL on refined tokens", {"kl_clip", "support_k"},
       shared_defaults, {}},
      {ObjectiveKind::kFklFull, "fkl_full", "full-vocab forward KL on student tokens", {"kl_clip", "support_k"},
       shared_defaults, {}},
      {ObjectiveKind::kRklFull, "rkl_full", "full-vocab reverse KL on student tokens", {"kl_clip", "support_k"},
       shared_defaults, {}},
      {ObjectiveKind::kSum, "sum", "weighted sum of `terms`", {"terms"}, shared_defaults, {}},
  };
  return specs;
}

const ObjectiveSpec& objective_spec(ObjectiveKind kind) {
  for (const auto& s : objective_specs()) {
    if (s.kind == kind) return s;
  }
  TORCH_INTERNAL_ASSERT(false, "no ObjectiveSpec for ObjectiveKind ", static_cast<int>(kind));
}

const config::Schema<ObjectiveConfig>& objective_option_schema() {
  using S = ObjectiveConfig;
  using namespace opd::config;
  static const config::Schema<S> schema = {OPD_OBJECTIVE_FIELDS(OPD_CONFIG_FIELD)};
  return schema;
}

config::Schema<ObjectiveConfig> objective_schema(ObjectiveKind kind) {
  const ObjectiveSpec& spec = objective_spec(kind);
  const auto& all = objective_option_schema();
  config::Schema<ObjectiveConfig> fields = {*config::find_field(all, "normalization")};
  for (const auto& key : spec.options) {
    if (const auto* f = config::find_field(all, key)) fields.push_back(*f);  // not `terms`
  }
  for (auto& f : fields) {
    for (const auto& [key, check] : spec.checks) {
      if (key == f.key) f.check = check;
    }
  }
  return fields;
}

const char* objective_name(ObjectiveKind kind) { return objective_spec(kind).name; }

std::vector<std::string> objective_names() {
  std::vector<std::string> names;
  for (const auto& s : objective_specs()) names.emplace_back(s.name);
  return names;
}

ObjectiveKind objective_kind_from_name(const std::string& name, const std::string& where) {
  for (const auto& s : objective_specs()) {
    if (name == s.name) return s.kind;
  }
  TORCH_CHECK(false, where, " must be one of: ", config::join(objective_names()), "; got '", name, "'");
}

const char* outlier_variant_name(OutlierVariant v) { return config::choice_name(v); }
const char* loss_normalization_name(LossNormalization n) { return config::choice_name(n); }
const char* sft_targets_name(SftTargets t) { return config::choice_name(t); }

const std::vector<std::string>& objective_option_keys(ObjectiveKind kind) { return objective_spec(kind).options; }

ObjectiveConfig default_objective_config(ObjectiveKind kind) {
  ObjectiveConfig c;
  c.kind = kind;
  objective_spec(kind).defaults(c);
  return c;
}

std::optional<std::pair<std::string, std::string>> objective_rule_violation(const ObjectiveConfig& c,
                                                                           const std::string& path) {
  const ObjectiveSpec& spec = objective_spec(c.kind);
  if (accepts(spec, "reference") && !c.reference.empty() && c.lambda == 1.0) {
    return std::make_pair(std::string("reference"),
                          " is set but " + (path.empty() ? "lambda" : path + ".lambda") +
                              " = 1 uses no reference model (set lambda != 1, or drop reference)");
  }
  if (c.kind != ObjectiveKind::kSum) {
    if (!c.terms.empty()) return std::make_pair(std::string("terms"), std::string(": only an option of sum"));
    return std::nullopt;
  }
  if (c.terms.empty()) return std::make_pair(std::string("terms"), std::string(" must list at least one objective"));
  for (size_t i = 0; i < c.terms.size(); ++i) {
    if (c.terms[i].objective.kind == ObjectiveKind::kSum) {
      return std::make_pair("terms[" + std::to_string(i) + "].name", std::string(": a sum cannot nest a sum"));
    }
  }
  return std::nullopt;
}

void validate_objective_config(const ObjectiveConfig& c, const std::string& where) {
  const std::string at = where.empty() ? "objective." : where + ".";
  for (const auto& f : objective_schema(c.kind)) {
    const std::string bad = value_violation(f, f.get(c));
    TORCH_CHECK(bad.empty(), at, f.key, bad);
  }
  if (auto v = objective_rule_violation(c, "")) TORCH_CHECK(false, at, v->first, v->second);
  for (size_t i = 0; i < c.terms.size(); ++i) {
    const std::string term = at + "terms[" + std::to_string(i) + "]";
    const auto& t = c.terms[i];
    TORCH_CHECK(t.weight > 0 && t.weight < std::numeric_limits<double>::infinity(), term,
                ".weight must be > 0, got ", t.weight);
    validate_objective_config(t.objective, term);
  }
}

}  // namespace opd
