// The generation flags opd-eval and opd-generate share, bound to a
// GenerationConfig whose current values are the defaults shown in --help.
// Each flag's check and help come from the recipe's rollout schema
// (train_config.h), so `--top-p` and `rollout.top_p` cannot disagree.
#pragma once

#include "opd/rollout/generator.h"
#include "opd/train/train_config_schema.h"

#include <CLI/CLI.hpp>

#include <string>

namespace opd::tools {

// A CLI11 check for the range declared on rollout.<key>.
inline CLI::Validator rollout_range(const std::string& key) {
  const config::Range range = train::schema_field(train::rollout_schema(), key).check.range;
  return CLI::Validator(
      [range](std::string& text) -> std::string {
        double x = 0;
        try {
          size_t used = 0;
          x = std::stod(text, &used);
          if (used != text.size()) return "must be a number, got " + text;
        } catch (const std::exception&) {
          return "must be a number, got " + text;
        }
        return range.contains(x) ? "" : "must be " + range.describe() + ", got " + text;
      },
      range.describe());
}

// The flag --<name> bound to `value`, checked and documented as rollout.<key>.
template <typename T>
CLI::Option* add_rollout_option(CLI::App& app, const std::string& name, const std::string& key, T& value) {
  return app.add_option("--" + name, value, train::schema_field(train::rollout_schema(), key).doc)
      ->check(rollout_range(key))
      ->capture_default_str();
}

inline void add_sampling_options(CLI::App& app, rollout::GenerationConfig& g) {
  add_rollout_option(app, "max-new-tokens", "max_new_tokens", g.max_new_tokens);
  add_rollout_option(app, "temperature", "temperature", g.sampling.temperature);
  add_rollout_option(app, "top-p", "top_p", g.sampling.top_p);
  add_rollout_option(app, "top-k", "top_k", g.sampling.top_k);
  add_rollout_option(app, "min-p", "min_p", g.sampling.min_p);
  app.add_option("--seed", g.seed, "sampling seed (draws are keyed by sample, not by --batch)")
      ->check(CLI::Validator(
          [](std::string& v) -> std::string {
            const bool digits = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
            return digits ? "" : "expected a whole number >= 0, got '" + v + "'";
          },
          "UINT"))
      ->capture_default_str();
}

}  // namespace opd::tools
