// Shared by every tools/*_main.cpp: use every core, run the body, and turn any
// exception into one line on stderr and exit code 1. Only tools decide exit codes.
#pragma once

#include "opd/core/cpu_threads.h"

#include <c10/util/Exception.h>

#include <cstdio>
#include <exception>
#include <string>

namespace opd::tools {

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
