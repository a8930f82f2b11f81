#include "opd/objectives/objective_config.h"

#include <c10/util/Exception.h>

namespace opd {

const char* objective_name(ObjectiveKind kind) {
  switch (kind) {
    case ObjectiveKind::kOpd: return "opd";
  }
  return "unknown";
}

ObjectiveKind objective_kind_from_name(const std::string& name, const std::string& where) {
  for (ObjectiveKind k : {ObjectiveKind::kOpd}) {
    if (name == objective_name(k)) return k;
  }
  TORCH_CHECK(false, where, " must be one of: opd; got '", name, "'");
}

}  // namespace opd
