// The one factory from a config to an objective.
#pragma once

#include "opd/objectives/objective.h"
#include "opd/objectives/objective_config.h"

#include <memory>

namespace opd {

std::unique_ptr<Objective> make_objective(const ObjectiveConfig& config);

}  // namespace opd
