// Shared by every tools/*_main.cpp: use every core, run the body, and turn any
// exception into one line on stderr and exit code 1. Only tools decide exit codes.
#pragma once

#include "opd/core/cpu_threads.h"

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <cstdio>
#include <exception>
#include <string>

namespace opd::tools {

// What every tool's command line has: --version (opd's, the LibTorch it was
// built against, and whether the CUDA ops are in), and every option's
// default shown in --help. Call before adding options.
inline void standard_flags(CLI::App& app) {
#if OPD_WITH_CUDA
  const char* cuda = "CUDA ops on";
#else
  const char* cuda = "CUDA ops off";
#endif
  app.set_version_flag("--version", std::string("opd ") + OPD_VERSION + " (LibTorch " + OPD_TORCH_VERSION + ", " +
                                        cuda + ")");
  app.option_defaults()->always_capture_default();
}

template <typename Body>
int run_main(const char* tool, Body body) {
  use_all_cpu_threads();
  try {
    return body();
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", tool, e.what_without_backtrace());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", tool, e.what());
  }
  return 1;
}

}  // namespace opd::tools
