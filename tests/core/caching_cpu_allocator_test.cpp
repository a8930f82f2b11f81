#include "opd/core/caching_cpu_allocator.h"

#include <gtest/gtest.h>
#include <c10/core/CPUAllocator.h>
#include <torch/torch.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace opd::caching_cpu_allocator_test {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// Fills a block, so that a test that reads it back knows it was usable.
void touch(const c10::DataPtr& block, size_t n) { std::memset(block.get(), 0x5a, n); }

TEST(CachingCpuAllocator, AFreedLargeBlockServesTheNextRequestOfItsSize) {
  CachingCpuAllocator cache(32 * kMiB, 256 * kMiB);
  void* first = nullptr;
  {
    auto block = cache.allocate(40 * kMiB);
    touch(block, 40 * kMiB);
    first = block.get();
  }
  EXPECT_EQ(cache.stats().cached_blocks, 1);
  EXPECT_EQ(cache.stats().cached_bytes, int64_t(40 * kMiB));  // 40 MiB is whole 2 MiB pages
  auto again = cache.allocate(40 * kMiB);
  EXPECT_EQ(again.get(), first);
  const auto stats = cache.stats();
  EXPECT_EQ(stats.hits, 1);
  EXPECT_EQ(stats.misses, 1);
  EXPECT_EQ(stats.cached_blocks, 0);
}

TEST(CachingCpuAllocator, ABlockIsReusedOnlyForRequestsWithinAnEighthOfItsSize) {
  CachingCpuAllocator cache(32 * kMiB, 1024 * kMiB);
  void* big = nullptr;
  {
    auto block = cache.allocate(80 * kMiB);
    big = block.get();
  }
  auto far_smaller = cache.allocate(40 * kMiB);  // would leave half of the block idle
  EXPECT_NE(far_smaller.get(), big);
  auto close = cache.allocate(72 * kMiB);  // 80 MiB is within 72 + 9
  EXPECT_EQ(close.get(), big);
  EXPECT_EQ(cache.stats().hits, 1);
  EXPECT_EQ(cache.stats().misses, 2);
}

TEST(CachingCpuAllocator, SmallRequestsAreNeitherCachedNorCounted) {
  CachingCpuAllocator cache(32 * kMiB, 256 * kMiB);
  {
    auto block = cache.allocate(kMiB);
    touch(block, kMiB);
  }
  const auto stats = cache.stats();
  EXPECT_EQ(stats.hits + stats.misses, 0);
  EXPECT_EQ(stats.cached_blocks, 0);
  auto empty = cache.allocate(0);
  EXPECT_EQ(empty.get(), nullptr);
}

TEST(CachingCpuAllocator, TheCapacityBoundsWhatStaysCached) {
  CachingCpuAllocator cache(32 * kMiB, 100 * kMiB);
  {
    auto a = cache.allocate(40 * kMiB);
    auto b = cache.allocate(48 * kMiB);
    auto c = cache.allocate(36 * kMiB);
  }  // freed in reverse: c (36), b (48) are kept; a (40) pushes out b, the largest
  auto stats = cache.stats();
  EXPECT_LE(stats.cached_bytes, int64_t(100 * kMiB));
  EXPECT_EQ(stats.cached_blocks, 2);
  EXPECT_EQ(stats.cached_bytes, int64_t(76 * kMiB));
  EXPECT_EQ(stats.evictions, 1);
  {
    auto too_big = cache.allocate(128 * kMiB);  // larger than the whole capacity
  }
  stats = cache.stats();
  EXPECT_EQ(stats.cached_bytes, int64_t(76 * kMiB));
  cache.release_cached();
  EXPECT_EQ(cache.stats().cached_blocks, 0);
  EXPECT_EQ(cache.stats().cached_bytes, 0);
}

TEST(CachingCpuAllocator, RawAllocationsRoundTripAndStayAligned) {
  CachingCpuAllocator cache(32 * kMiB, 256 * kMiB);
  for (size_t n : {size_t{24}, 3 * kMiB, 33 * kMiB + 5}) {
    void* p = cache.raw_allocate(n);  // asserts that the context is the data pointer
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << n;
    std::memset(p, 1, n);
    cache.raw_deallocate(p);
  }
  EXPECT_EQ(cache.stats().cached_blocks, 1);
}

TEST(CachingCpuAllocator, ThreadsShareTheCacheWithoutLosingBlocks) {
  CachingCpuAllocator cache(32 * kMiB, 512 * kMiB);
  constexpr int kRounds = 50;
  auto work = [&] {
    for (int i = 0; i < kRounds; ++i) {
      auto block = cache.allocate((34 + 2 * (i % 3)) * kMiB);
      static_cast<char*>(block.get())[0] = 1;
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  const auto stats = cache.stats();
  EXPECT_EQ(stats.hits + stats.misses, 2 * kRounds);
  EXPECT_LE(stats.misses, 6);  // at most one block per size and thread
  EXPECT_EQ(stats.cached_blocks, stats.misses - stats.evictions);
}

TEST(CachingCpuAllocator, InstalledItServesLibTorchsCpuTensors) {
  auto& cache = install_caching_cpu_allocator(32 * kMiB, 1024 * kMiB);
  EXPECT_EQ(&install_caching_cpu_allocator(1, 1), &cache);  // the first call's instance stays
  if (c10::GetCPUAllocator() != &cache) GTEST_SKIP() << "another CPU allocator of higher priority is installed";
  const int64_t rows = 512, cols = 20000;  // 40 MB of floats
  void* first = nullptr;
  {
    auto t = torch::full({rows, cols}, 2.0f);
    first = t.data_ptr();
  }
  const int64_t hits = cache.stats().hits;
  auto a = torch::ones({rows, cols});
  EXPECT_EQ(a.data_ptr(), first);
  EXPECT_EQ(cache.stats().hits, hits + 1);
  // The reused block holds what it was given, not what it held before.
  EXPECT_EQ(a.sum().item<double>(), double(rows * cols));
  a.reset();
  EXPECT_GE(cache.stats().cached_blocks, 1);
  release_cached_cpu_blocks();
  EXPECT_EQ(cache.stats().cached_blocks, 0);
  EXPECT_EQ(cache.stats().cached_bytes, 0);
}

}  // namespace
}  // namespace opd::caching_cpu_allocator_test
