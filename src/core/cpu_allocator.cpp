#include "opd/core/cpu_allocator.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>

#include <malloc.h>
#include <unistd.h>

#include "opd/core/caching_cpu_allocator.h"

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

// What the block cache may hold: OPD_CPU_CACHE_MB, else a quarter of the
// machine's memory up to 8 GiB (a 0.6B-shaped step at V = 151936 cycles
// through a few 0.6 GB blocks per micro-batch).
size_t block_cache_capacity() {
  if (const char* text = std::getenv("OPD_CPU_CACHE_MB")) {
    char* end = nullptr;
    errno = 0;
    const long long mib = std::strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || mib < 0 || mib > (1LL << 30)) {
      throw std::invalid_argument(std::string("OPD_CPU_CACHE_MB=") + text +
                                  ": expected a whole number of MiB (0 turns the CPU block cache off)");
    }
    return static_cast<size_t>(mib) << 20;
  }
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const size_t physical = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
  return std::min(physical / 4, size_t{8} << 30);
}

}  // namespace

std::string keep_freed_cpu_memory() {
  const char* tuning = std::getenv("OPD_MALLOC_TUNING");
  if (tuning != nullptr && std::string(tuning) == "0") return "glibc defaults (OPD_MALLOC_TUNING=0)";
  const std::string mmap = apply(M_MMAP_THRESHOLD, kMmapThreshold, "MALLOC_MMAP_THRESHOLD_");
  const std::string trim = apply(M_TRIM_THRESHOLD, kTrimThreshold, "MALLOC_TRIM_THRESHOLD_");
  const size_t capacity = block_cache_capacity();
  std::string cache = "no block cache (OPD_CPU_CACHE_MB=0)";
  if (capacity > 0) {
    const size_t in_effect = install_caching_cpu_allocator(kMmapThreshold, capacity).capacity();
    cache = "blocks >= " + std::to_string(kMmapThreshold >> 20) + " MiB cached up to " +
            std::to_string(in_effect >> 20) + " MiB";
  }
  return "mmap " + mmap + ", trim " + trim + ", " + cache;
}

}  // namespace opd
