// Command lines of the benchmarks (CLI11): --help prints and runs nothing; a
// bad, missing or unknown value is one line on stderr naming the flag.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "opd/core/cpu_allocator.h"
#include "opd/model/cpu_packed_linear.h"

namespace opd::bench {

// An App whose errors are one line, "<name>: <what> (see --help)".
inline void one_line_errors(CLI::App& app, const std::string& name) {
  app.failure_message([name](const CLI::App*, const CLI::Error& e) {
    return name + ": " + e.what() + " (see --help)\n";
  });
}

// A whole number of at least `min`, e.g. --batch 8.
inline CLI::Validator at_least(int64_t min) {
  return CLI::Validator(
      [min](std::string& value) -> std::string {
        size_t used = 0;
        long long parsed = 0;
        try {
          parsed = std::stoll(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != value.size() || parsed < min) {
          return "expected a whole number >= " + std::to_string(min) + ", got '" + value + "'";
        }
        return "";
      },
      "INT>=" + std::to_string(min));
}

// keep_freed_cpu_memory() for a benchmark's main, and the linear-packing
// setting read: a malformed OPD_CPU_CACHE_MB or OPD_CPU_PACKED_LINEAR is one
// line and exit 2, like a bad flag. Returns the settings in effect.
inline std::string keep_freed_cpu_memory_or_exit(const char* name) {
  try {
    const auto memory = keep_freed_cpu_memory();
    return memory + (model::cpu_linear_packing_enabled() ? "; oneDNN-packed CPU linears"
                                                         : "; unpacked CPU linears");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    std::exit(2);
  }
}

}  // namespace opd::bench
