#include "opd/core/run_dir_lock.h"

#include <c10/util/Exception.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace opd {
namespace {

namespace fs = std::filesystem;

std::string host_name() {
  char name[256] = {};
  return ::gethostname(name, sizeof name - 1) == 0 ? std::string(name) : std::string("unknown host");
}

// What a temporary of a writer looks like: ".<name>.tmp<suffix>" or ".<name>.old<suffix>".
bool is_temporary(const std::string& name) {
  return name.size() > 1 && name[0] == '.' && (name.find(".tmp") != std::string::npos || name.find(".old") != std::string::npos);
}

}  // namespace

RunDirLock::RunDirLock(const std::string& run_dir) {
  fs::create_directories(run_dir);
  const std::string path = (fs::path(run_dir) / ".opd.lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  TORCH_CHECK(fd_ >= 0, "run_dir '", run_dir, "': cannot open its lock file ", path, ": ", std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char holder[256] = {};
    const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
    ::close(fd_);
    fd_ = -1;
    std::string owner = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "";
    owner.erase(owner.find_last_not_of(" \t\r\n") + 1);
    TORCH_CHECK(err != EWOULDBLOCK, "run_dir '", run_dir, "' is in use by another run (",
                owner.empty() ? std::string("its owner") : owner,
                "); wait for it to finish or give this run another run_dir");
    TORCH_CHECK(false, "run_dir '", run_dir, "': cannot lock ", path, ": ", std::strerror(err));
  }
  const std::string me = "opd pid " + std::to_string(::getpid()) + " on " + host_name();
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
    TORCH_WARN("run_dir '", run_dir, "': could not record the lock's owner in ", path);
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(run_dir, ec)) {
    if (!is_temporary(entry.path().filename().string())) continue;
    fs::remove_all(entry.path(), ec);
    if (!ec) ++removed_;
  }
}

RunDirLock::~RunDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing drops the flock
}

}  // namespace opd
