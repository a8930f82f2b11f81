// The generation flags opd-eval and opd-generate share, bound to a
// GenerationConfig whose current values are the defaults shown in --help.
#pragma once

#include "opd/rollout/generator.h"

#include <CLI/CLI.hpp>

namespace opd::tools {

inline void add_sampling_options(CLI::App& app, rollout::GenerationConfig& g) {
  app.add_option("--max-new-tokens", g.max_new_tokens, "tokens generated per sample at most")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--temperature", g.sampling.temperature, "0 = greedy")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--top-p", g.sampling.top_p, "nucleus mass kept (1 = off)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--top-k", g.sampling.top_k, "most likely tokens kept (0 = off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--min-p", g.sampling.min_p, "keep tokens with p >= min_p * p_max (0 = off)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--seed", g.seed, "sampling seed (draws are keyed by sample, not by --batch)")
      ->capture_default_str();
}

}  // namespace opd::tools
