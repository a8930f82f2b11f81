#include "support/test_support.h"

#include <gtest/gtest.h>

#include <array>
#include <csignal>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace opd::testing {

ScratchDir::ScratchDir(const std::string& tag) {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() /
          (tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string error_message(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}

void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  const std::string message = error_message(fn);
  for (const auto& part : parts) {
    EXPECT_NE(message.find(part), std::string::npos)
        << "expected \"" << part << "\" in: " << message;
  }
}

void write_file_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

::testing::AssertionResult close(const at::Tensor& actual, const at::Tensor& expected, double rtol,
                                 double atol) {
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure() << "sizes " << actual.sizes() << " vs " << expected.sizes();
  }
  auto a = actual.to(at::kDouble), e = expected.to(at::kDouble);
  auto excess = (a - e).abs() - (atol + rtol * e.abs());
  if (!at::isfinite(a).all().item<bool>() || (excess > 0).any().item<bool>()) {
    return ::testing::AssertionFailure() << "max |diff| " << (a - e).abs().max().item<double>()
                                         << " (atol " << atol << ", rtol " << rtol << ")";
  }
  return ::testing::AssertionSuccess();
}

double rel_err(const at::Tensor& actual, const at::Tensor& expected) {
  auto e = expected.to(at::kDouble);
  return ((actual.to(at::kDouble) - e).norm() / e.norm().clamp_min(1e-30)).item<double>();
}

CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe) != nullptr) r.output += buf.data();
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

CommandResult run_reference(const std::string& script, const std::string& args) {
  const std::string env = "HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_PROGRESS_BARS=1 "
                          "TRANSFORMERS_VERBOSITY=error TOKENIZERS_PARALLELISM=false PYTHONDONTWRITEBYTECODE=1 ";
  return run_command(env + "'" + std::string(OPD_PYTHON) + "' '" + OPD_SOURCE_DIR + "/tests/reference/" + script +
                     "' " + args);
}

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string error_under_file_size_limit(const std::function<void()>& fn, size_t limit_bytes) {
  struct rlimit saved {};
  EXPECT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit small = saved;
  small.rlim_cur = limit_bytes;
  auto* previous_handler = std::signal(SIGXFSZ, SIG_IGN);
  EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string message = error_message(fn);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous_handler);
  return message;
}

}  // namespace opd::testing
