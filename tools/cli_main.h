// Shared by every tools/*_main.cpp: use every core, run the body, and turn any
// exception into one line on stderr and exit code 1. Only tools decide exit codes.
#pragma once

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>

namespace opd::tools {

template <typename Body>
int run_main(const char* tool, Body body) {
  // Debian's LibTorch starts with one intra-op thread; honour OMP_NUM_THREADS
  // when the user set it, else use the machine.
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  }
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
