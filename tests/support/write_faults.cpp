// Injects storage faults into a tool run by the fault-injection tests, loaded
// with LD_PRELOAD. Only writes to regular files under OPD_FAULT_DIR count; the
// tool's own stdout/stderr and anything elsewhere are never touched.
//
//   OPD_FAULT_DIR=<dir>          whose files count (required, else a no-op)
//   OPD_FAULT_LOG=<file>         appends "<bytes so far> <path>" for each write
//                                (how a test finds where a checkpoint's bytes lie)
//   OPD_FAULT_AT=<bytes>         once this many bytes were written there...
//   OPD_FAULT_ACTION=enospc|kill ...every later write fails with ENOSPC (a disk
//                                that filled up), or the process is SIGKILLed
//                                in the middle of that write (power loss).
// The write that crosses the mark writes its bytes up to it first, so the
// fault lands mid-file, as a real one would.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using write_fn = ssize_t (*)(int, const void*, size_t);

std::atomic<long long> written_so_far{0};

// Whether fd is a regular file under OPD_FAULT_DIR; its path goes to `path`.
bool counted(int fd, char* path, size_t cap) {
  const char* dir = getenv("OPD_FAULT_DIR");
  struct stat st;
  if (dir == nullptr || *dir == '\0' || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, cap - 1);
  if (n <= 0) return false;
  path[n] = '\0';
  return strncmp(path, dir, strlen(dir)) == 0;
}

void log_write(write_fn real, long long total, const char* path) {
  const char* log = getenv("OPD_FAULT_LOG");
  if (log == nullptr) return;
  const int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  char line[PATH_MAX + 32];
  const int len = snprintf(line, sizeof line, "%lld %s\n", total, path);
  if (len > 0) real(fd, line, static_cast<size_t>(len));
  close(fd);
}

// How many of `size` bytes may go out now: all of them, or fewer (the fault
// lands inside this write, or already happened: 0).
ssize_t allowed(write_fn real, int fd, size_t size) {
  char path[PATH_MAX];
  if (!counted(fd, path, sizeof path)) return static_cast<ssize_t>(size);
  const char* at = getenv("OPD_FAULT_AT");
  const long long limit = at ? atoll(at) : -1;
  const long long before = written_so_far.fetch_add(static_cast<long long>(size));
  log_write(real, before + static_cast<long long>(size), path);
  if (limit < 0 || before + static_cast<long long>(size) <= limit) return static_cast<ssize_t>(size);
  const long long room = limit > before ? limit - before : 0;
  return static_cast<ssize_t>(room);
}

void fault() {
  const char* action = getenv("OPD_FAULT_ACTION");
  if (action != nullptr && strcmp(action, "kill") == 0) raise(SIGKILL);
  errno = ENOSPC;
}

}  // namespace

extern "C" ssize_t write(int fd, const void* data, size_t size) {
  static write_fn real;
  if (real == nullptr) real = reinterpret_cast<write_fn>(dlsym(RTLD_NEXT, "write"));
  const ssize_t room = allowed(real, fd, size);
  if (room == static_cast<ssize_t>(size)) return real(fd, data, size);
  if (room > 0) {
    const ssize_t n = real(fd, data, static_cast<size_t>(room));
    fault();
    if (n > 0) return n;  // a short write; the next one gets ENOSPC
  }
  fault();
  return -1;
}

// libstdc++'s file streams write through writev: the same rule, as one write.
extern "C" ssize_t writev(int fd, const struct iovec* iov, int count) {
  ssize_t done = 0;
  for (int i = 0; i < count; ++i) {
    const char* p = static_cast<const char*>(iov[i].iov_base);
    size_t left = iov[i].iov_len;
    while (left > 0) {
      const ssize_t n = write(fd, p, left);
      if (n < 0) return done > 0 ? done : -1;
      done += n;
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  return done;
}
