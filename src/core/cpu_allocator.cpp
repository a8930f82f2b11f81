#include "opd/core/cpu_allocator.h"

#include <cstdlib>

#include <malloc.h>

namespace opd {

namespace {

constexpr int kMmapThreshold = 32 << 20;   // below this, freed blocks stay in the heap for reuse
constexpr int kTrimThreshold = 256 << 20;  // free heap top returned to the kernel beyond this

// Sets one mallopt parameter unless the environment variable glibc reads for
// it is set; says which it was.
std::string apply(int param, int value, const char* env_name) {
  if (std::getenv(env_name) != nullptr) return std::string("from ") + env_name;
  if (mallopt(param, value) != 1) return "unchanged (mallopt refused)";
  return std::to_string(value >> 20) + " MiB";
}

}  // namespace

std::string keep_freed_cpu_memory() {
  const char* tuning = std::getenv("OPD_MALLOC_TUNING");
  if (tuning != nullptr && std::string(tuning) == "0") return "glibc defaults (OPD_MALLOC_TUNING=0)";
  const std::string mmap = apply(M_MMAP_THRESHOLD, kMmapThreshold, "MALLOC_MMAP_THRESHOLD_");
  const std::string trim = apply(M_TRIM_THRESHOLD, kTrimThreshold, "MALLOC_TRIM_THRESHOLD_");
  return "mmap " + mmap + ", trim " + trim;
}

}  // namespace opd
