#include "opd/core/cpu_allocator.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

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
  ASSERT_EQ(keep_freed_cpu_memory(), "mmap 32 MiB, trim 256 MiB");
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

}  // namespace
}  // namespace opd
