#include "opd/objectives/registry.h"

#include "opd/objectives/opd.h"

namespace opd {

std::unique_ptr<Objective> make_objective(const ObjectiveConfig& config) {
  switch (config.kind) {
    case ObjectiveKind::kOpd: return std::make_unique<OpdObjective>();
  }
  TORCH_CHECK(false, "make_objective: unhandled objective kind ", static_cast<int>(config.kind));
}

}  // namespace opd
