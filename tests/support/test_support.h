// Helpers shared by the test suites: scratch directories, error matching,
// commands and ports.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace opd::testing {

// A fresh directory under the system temp dir, removed when the object dies.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag = "opd");
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Runs fn and returns the message (without backtrace) of the c10::Error or
// std::exception it throws; returns "<no exception>" when it does not throw.
std::string error_message(const std::function<void()>& fn);

// Expects fn to throw an error whose message holds every one of `parts`
// (a GoogleTest failure naming the missing part otherwise).
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts);

// Elementwise |actual - expected| <= atol + rtol * |expected| (in double), same
// sizes, and actual finite; the failure names the largest difference.
::testing::AssertionResult close(const at::Tensor& actual, const at::Tensor& expected, double rtol,
                                 double atol);
// ||actual - expected|| / ||expected|| in double.
double rel_err(const at::Tensor& actual, const at::Tensor& expected);

// A shell command's exit code and its stdout and stderr together, as a user
// running a tool sees them.
struct CommandResult {
  int exit_code = -1;  // -1 when it did not exit normally
  std::string output;
};
CommandResult run_command(const std::string& command);

// Runs tests/reference/<script> (the Hugging Face side of a reference test)
// with the Python that has the reference libraries (OPD_PYTHON: the venv
// tools/setup.sh makes), offline and without progress bars. Arguments are
// passed through a shell: quote what needs it.
CommandResult run_reference(const std::string& script, const std::string& args);

// Whole file contents as bytes.
std::string read_file_bytes(const std::string& path);
// Replaces the file's contents with `bytes`.
void write_file_bytes(const std::string& path, const std::string& bytes);

// A TCP port on the loopback no one listens on now (the kernel's pick for a
// bound, then closed, socket): where a test's ranks can meet.
int free_port();

// The error message of fn run with the file size limit at `limit_bytes`
// (SIGXFSZ ignored, so a write past it fails with "File too large"); the
// limit is restored before returning.
std::string error_under_file_size_limit(const std::function<void()>& fn, size_t limit_bytes = 4096);

}  // namespace opd::testing
