// Which objective a run trains with, and its options (DESIGN §4). Read from
// the `objective:` block of a recipe.
#pragma once

#include <string>

namespace opd {

// One entry per method; a switch over this without `default:` makes a new
// method a compile error until it is wired everywhere.
enum class ObjectiveKind {
  kOpd,  // K1 reverse-KL policy-gradient surrogate, A = tau - s
};

struct ObjectiveConfig {
  ObjectiveKind kind = ObjectiveKind::kOpd;  // YAML `name`, e.g. opd
};

// "opd" <-> kOpd. Throws naming `where` and the allowed names.
ObjectiveKind objective_kind_from_name(const std::string& name, const std::string& where);
const char* objective_name(ObjectiveKind kind);

}  // namespace opd
