#include "opd/core/cpu_allocator.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace opd {
namespace {

constexpr size_t kBlock = size_t{8} << 20;  // a decode step's activations, say: above glibc's 128 KiB default

// Where the block's address escapes to, so the compiler cannot drop the
// malloc/free pair.
void* volatile escaped = nullptr;

TEST(CpuAllocator, AFreedEightMebibyteBlockStaysInTheProcessForReuse) {
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_") ||
      std::getenv("OPD_MALLOC_TUNING")) {
    GTEST_SKIP() << "the environment sets malloc's thresholds itself";
  }
  if (std::getenv("OPD_CPU_CACHE_MB")) GTEST_SKIP() << "the environment sizes the block cache itself";
  const std::string setting = keep_freed_cpu_memory();
  ASSERT_EQ(setting.rfind("mmap 32 MiB, trim 256 MiB, blocks >= 32 MiB cached up to ", 0), 0u) << setting;
  const struct mallinfo2 before = mallinfo2();
  void* block = std::malloc(kBlock);
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, kBlock);
  escaped = block;
  const struct mallinfo2 during = mallinfo2();
  // Served from the heap, not by a fresh mmap that free() would unmap.
  EXPECT_EQ(during.hblks, before.hblks);
  std::free(block);
  const struct mallinfo2 after = mallinfo2();
  // Its pages are still the process's: free bytes in the heap grew by the block.
  EXPECT_GE(after.fordblks, before.fordblks + kBlock - (size_t{1} << 20));
}

TEST(CpuAllocator, TheEnvironmentCanKeepGlibcsDefaults) {
  ::setenv("OPD_MALLOC_TUNING", "0", 1);
  const std::string setting = keep_freed_cpu_memory();
  ::unsetenv("OPD_MALLOC_TUNING");
  EXPECT_EQ(setting, "glibc defaults (OPD_MALLOC_TUNING=0)");
}

TEST(CpuAllocator, AMalformedBlockCacheSizeIsRefusedByName) {
  ::setenv("OPD_CPU_CACHE_MB", "4GB", 1);
  try {
    keep_freed_cpu_memory();
    ADD_FAILURE() << "OPD_CPU_CACHE_MB=4GB was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "OPD_CPU_CACHE_MB=4GB: expected a whole number of MiB (0 turns the CPU block cache off)");
  }
  ::unsetenv("OPD_CPU_CACHE_MB");
}

}  // namespace
}  // namespace opd
