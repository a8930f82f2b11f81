// One writer per run directory: an advisory lock (flock) on
// <run_dir>/.opd.lock holding the owner's pid and host. A second run on the
// directory is refused naming the holder; the kernel drops the lock of a
// process that dies, so a stale lock is simply taken over. Once it holds
// the lock, the new owner removes the temporaries dead runs left behind
// (".<name>.tmp*" and ".<name>.old*": half-written checkpoints and files).
#pragma once

#include <string>

namespace opd {

class RunDirLock {
 public:
  // Creates `run_dir` when needed and takes its lock; throws naming the
  // directory and the holder (pid, host) when another process has it.
  explicit RunDirLock(const std::string& run_dir);
  ~RunDirLock();
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

  // The temporaries removed when the lock was taken.
  int removed_temporaries() const { return removed_; }

 private:
  int fd_ = -1;
  int removed_ = 0;
};

}  // namespace opd
