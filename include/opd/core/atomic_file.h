// Files written atomically: a unique temporary in the target's directory (so
// the rename never crosses file systems) is written, fsynced, renamed over the
// target, and the directory is fsynced. A reader sees the old file or the new
// one, never half of one, and once the write returns the new one survives a
// crash. Every writer of a whole file in opd goes through here.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace opd {

// Streams one file into place: write() any number of times, then commit().
// Destroyed without commit() (an exception, an early return) it removes its
// temporary and the target stays as it was. Errors throw
// "<path>: cannot write (<step> failed: <reason>)".
class AtomicFileWriter {
 public:
  // Creates the temporary ".<name>.tmp.XXXXXX" beside `path` (mode 0644); the
  // directory must exist.
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }

  // For a library that writes a file by name (HDF5): it writes to this path,
  // then commit() fsyncs and renames what it wrote.
  const std::string& temp_path() const { return temp_; }
  const std::string& path() const { return path_; }

  // fsync, close, rename over the target, fsync the directory.
  void commit();
  // The same, renamed to `other` (in the target's directory) instead: what
  // an interrupted writer finished, kept beside the target (e.g. as
  // <target>.partial) while the target stays as it was.
  void commit_to(const std::string& other);

 private:
  std::string path_;
  std::string temp_;
  int fd_ = -1;
  bool renamed_ = false;
};

// Replaces `path` with `bytes` through an AtomicFileWriter; the directory must
// exist. Throws naming the path; on failure the target is untouched.
void write_file_atomically(const std::string& path, std::string_view bytes);

// Replaces the directory `dir` with what `fill` writes into the temporary
// directory it is given (beside `dir`; each file written atomically, so
// fsynced): the temporary is renamed into place and the old directory removed
// only afterwards. When `fill` throws, the temporary is removed and `dir`
// stays as it was.
void write_directory_atomically(const std::string& dir, const std::function<void(const std::string&)>& fill);

}  // namespace opd
