// docs/config_reference.md, written from the config schemas (train_config.h,
// objective_config.h): `opd-train --print-config-reference` prints it and a
// ctest fails while the committed file differs.
#pragma once

#include <string>

namespace opd::train {

// The recipe reference as markdown: every key with its type and range,
// default and doc, then each objective's options and defaults.
std::string config_reference_markdown();

}  // namespace opd::train
