#include "opd/core/atomic_file.h"

#include <c10/util/Exception.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace opd {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& step, int err) {
  TORCH_CHECK(false, path, ": cannot write (", step, " failed: ", std::strerror(err), ")");
}

std::string directory_of(const std::string& path) {
  const auto parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  const std::filesystem::path target(path_);
  TORCH_CHECK(target.has_filename(), path_, ": cannot write (not a file name)");
  temp_ = (std::filesystem::path(directory_of(path_)) / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
  std::vector<char> name(temp_.begin(), temp_.end());
  name.push_back('\0');
  fd_ = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd_ < 0) fail(path_, "creating a temporary file beside it", errno);
  temp_ = name.data();
  // mkstemp makes the file 0600; a written file reads like one from open(2).
  if (::fchmod(fd_, 0644) != 0) {
    const int err = errno;
    ::close(fd_);
    ::unlink(temp_.c_str());
    fail(path_, "chmod of " + temp_, err);
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!renamed_) ::unlink(temp_.c_str());
}

void AtomicFileWriter::write(const void* data, size_t size) {
  TORCH_CHECK(fd_ >= 0, path_, ": cannot write (the file is already committed)");
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, std::min<size_t>(size, size_t{1} << 30));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(path_, "writing " + temp_, n < 0 ? errno : EIO);
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFileWriter::commit_to(const std::string& other) {
  TORCH_CHECK(directory_of(other) == directory_of(path_), other, ": not in the directory of ", path_);
  path_ = other;
  commit();
}

void AtomicFileWriter::commit() {
  TORCH_CHECK(fd_ >= 0, path_, ": cannot write (the file is already committed)");
  if (::fsync(fd_) != 0) fail(path_, "fsync of " + temp_, errno);
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) fail(path_, "closing " + temp_, errno);
  if (::rename(temp_.c_str(), path_.c_str()) != 0) fail(path_, "renaming " + temp_ + " over it", errno);
  renamed_ = true;
  // The rename is durable only once the directory entry is on disk.
  const std::string dir = directory_of(path_);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) fail(path_, "opening its directory " + dir, errno);
  const int err = ::fsync(dir_fd) != 0 ? errno : 0;
  ::close(dir_fd);
  if (err != 0) fail(path_, "fsync of its directory " + dir, err);
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  AtomicFileWriter file(path);
  file.write(bytes);
  file.commit();
}

void write_directory_atomically(const std::string& dir, const std::function<void(const std::string&)>& fill) {
  namespace fs = std::filesystem;
  const fs::path target(dir);
  const fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  fs::create_directories(parent);
  const std::string suffix = "." + std::to_string(::getpid());
  const fs::path tmp = parent / ("." + target.filename().string() + ".tmp" + suffix);
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    fill(tmp.string());
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    throw;
  }
  // Swap in the finished directory; the old one is removed only afterwards.
  const fs::path old = parent / ("." + target.filename().string() + ".old" + suffix);
  const bool had_old = fs::exists(target);
  if (had_old) fs::rename(target, old);
  fs::rename(tmp, target);
  if (had_old) fs::remove_all(old);
}

}  // namespace opd
