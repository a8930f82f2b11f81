// Recipes (YAML) -> TrainConfig, the one place that reads YAML (STYLE
// "Configuration"). Every error is a one-line c10::Error naming the file (and
// line, or the `--set` that caused it), the full dotted key, the bad value and
// what is allowed: `recipe.yaml:7: optim.lr must be > 0, got -1`.
#pragma once

#include "opd/train/train_config.h"

#include <string>
#include <vector>

namespace opd::train {

// Parses recipe text into a TrainConfig; `where` (a file name) prefixes every
// error. `overrides` are "dotted.key=value" strings (`optim.lr=3e-4`,
// `optim.betas=[0.9,0.95]`, `student={path: m, dtype: bfloat16}`) whose value
// is read as YAML and applied to the tree before conversion, in order (a later
// one wins), so they are checked exactly like the file. Throws on malformed
// YAML, unknown or duplicate keys, wrong types, out-of-range values, missing
// student.path / teacher.path / data.train, and malformed overrides.
// `objective` is read by its `name` first, which picks the defaults
// (default_objective_config) and the option keys allowed beside name and
// normalization (objective_option_keys); `sum` takes `terms`, a list of such
// maps each with a `weight` (default 1.0), not nesting another sum.
TrainConfig parse_train_config(const std::string& yaml_text, const std::string& where,
                               const std::vector<std::string>& overrides = {});

// Reads the recipe at `path` and parses it (errors named by `path`). Throws
// naming the path when it cannot be read, else as parse_train_config.
TrainConfig load_train_config(const std::string& path,
                              const std::vector<std::string>& overrides = {});

// The resolved config as YAML, every field written (defaults included), such
// that parse_train_config(train_config_yaml(c), ...) equals c exactly. The
// trainer saves it beside the run.
std::string train_config_yaml(const TrainConfig& config);

}  // namespace opd::train
