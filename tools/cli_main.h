// Shared by every tools/*_main.cpp: keep freed CPU memory for reuse, use
// every core, read the linear-packing setting (a bad one fails here, not
// mid-run), run the body, and turn any exception into one line on stderr
// and exit code 1. Only tools decide exit codes.
#pragma once

#include "opd/core/cpu_allocator.h"
#include "opd/core/cpu_threads.h"
#include "opd/model/cpu_packed_linear.h"

#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>

#include <unistd.h>

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

// Reads the command line. --help and --version print and give exit code 0;
// a bad, missing or unknown flag or value is one line on stderr,
// "<tool>: error: <what> (see --help)", and exit code 2 (a usage error, as
// the shell's own tools give). Returns the exit code, or nothing to go on:
//   if (auto code = opd::tools::parse_flags("opd-x", app, argc, argv)) return *code;
inline std::optional<int> parse_flags(const char* tool, CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "%s: error: %s (see --help)\n", tool, e.what());
    return 2;
  }
}

// A number above 0 (--layers 4, --init-std 0.02), or of at least 0; the
// message names the value ("expected a number > 0, got '0'").
inline CLI::Validator number_above(double min, bool or_equal, const std::string& name) {
  return CLI::Validator(
      [min, or_equal](std::string& value) -> std::string {
        size_t used = 0;
        double parsed = 0;
        try {
          parsed = std::stod(value, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        const bool ok = used != 0 && used == value.size() && std::isfinite(parsed) &&
                        (or_equal ? parsed >= min : parsed > min);
        return ok ? "" : std::string("expected a number ") + (or_equal ? ">= " : "> ") + std::to_string(int(min)) +
                             ", got '" + value + "'";
      },
      name);
}
inline CLI::Validator positive() { return number_above(0, false, "POSITIVE"); }
inline CLI::Validator non_negative() { return number_above(0, true, "NONNEGATIVE"); }

// "done/total what" on stderr: rewritten in place on a terminal; in a log
// (not a terminal) one line each time another tenth is done, so logs stay
// readable.
class Progress {
 public:
  Progress(const char* what, int64_t total) : what_(what), total_(total), terminal_(::isatty(STDERR_FILENO) == 1) {}
  void update(int64_t done) {
    if (terminal_) {
      std::fprintf(stderr, "\r%lld/%lld %s", static_cast<long long>(done), static_cast<long long>(total_), what_);
      return;
    }
    const int64_t tenth = total_ > 0 ? done * 10 / total_ : 10;
    if (tenth <= last_tenth_) return;
    last_tenth_ = tenth;
    std::fprintf(stderr, "%lld/%lld %s\n", static_cast<long long>(done), static_cast<long long>(total_), what_);
  }
  // Ends the in-place line on a terminal.
  void finish() {
    if (terminal_) std::fputc('\n', stderr);
  }

 private:
  const char* what_;
  int64_t total_;
  bool terminal_;
  int64_t last_tenth_ = 0;
};

// An exception's message without LibTorch's backtrace.
inline std::string error_text(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

template <typename Body>
int run_main(const char* tool, Body body) {
  try {
    keep_freed_cpu_memory();
    use_all_cpu_threads();
    model::cpu_linear_packing_enabled();
    return body();
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", tool, e.what_without_backtrace());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", tool, e.what());
  }
  return 1;
}

}  // namespace opd::tools
