// Shared by the fuzz targets: what counts as a clean refusal, and a scratch
// file for parsers that read a path.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>
#include <typeinfo>
#include <unistd.h>

namespace opd::fuzz {

// Runs `parse`; an exception of type Expected is the parser refusing the
// input with a message, which is what it must do. Anything else (a
// std::bad_alloc, an nlohmann or yaml-cpp exception, std::out_of_range from
// an .at()) escaped a parser that promises Expected: abort, so libFuzzer
// keeps the input as a crash.
template <typename Expected, typename Parse>
void expect_refusal_or_success(Parse&& parse) {
  try {
    parse();
  } catch (const Expected&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: unexpected exception %s: %s\n", typeid(e).name(), e.what());
    std::abort();
  }
}

// Aborts with `what` unless `condition`: a property that must hold of every
// input the parser accepts.
inline void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz: property failed: %s\n", what);
    std::abort();
  }
}

// A file holding `bytes`, under $TMPDIR, one per process (libFuzzer runs the
// inputs of one process one after another), removed at exit.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& suffix) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/opd-fuzz-" + std::to_string(getpid()) + suffix;
  }
  ~ScratchFile() { std::remove(path_.c_str()); }
  const std::string& write(const uint8_t* data, size_t size) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace opd::fuzz
