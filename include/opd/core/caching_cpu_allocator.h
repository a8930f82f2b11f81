// A CPU allocator that keeps freed large blocks for the next request of about
// the same size. glibc serves every block of 32 MiB or more from a fresh mmap
// and unmaps it on free, so each reuse faults its pages in again, zeroed by the
// kernel. A training step at a 151936-id vocabulary allocates and frees the
// same [V, H] gradient buffers (the embedding's and the lm_head's) and the
// same logits chunks once per micro-batch: at Qwen3-0.6B's shape that was
// about 17 GB of fresh pages (4.2 M page faults) a step, and the steps ran
// 1.2x slower than with this cache. Blocks below the threshold pass straight
// through to glibc's heap, which keeps them (see cpu_allocator.h).
#pragma once

#include <c10/core/Allocator.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>

namespace opd {

struct CpuBlockCacheStats {
  int64_t hits = 0;            // large requests served from a cached block
  int64_t misses = 0;          // large requests that needed a fresh block
  int64_t evictions = 0;       // cached blocks freed to stay within the capacity
  int64_t cached_bytes = 0;    // bytes held now by freed blocks
  int64_t cached_blocks = 0;   // freed blocks held now
};

class CachingCpuAllocator final : public c10::Allocator {
 public:
  // Requests of min_block bytes or more are cached; freed blocks are kept
  // while they hold at most `capacity` bytes together (the largest go first).
  CachingCpuAllocator(size_t min_block, size_t capacity);
  CachingCpuAllocator(const CachingCpuAllocator&) = delete;
  CachingCpuAllocator& operator=(const CachingCpuAllocator&) = delete;
  ~CachingCpuAllocator() override;  // frees the cached blocks; live ones must be gone

  // The context is the data pointer, as raw_allocate requires.
  c10::DataPtr allocate(size_t n) override;
  c10::DeleterFnPtr raw_deleter() const override;
  void copy_data(void* dest, const void* src, std::size_t count) const override;

  CpuBlockCacheStats stats() const;
  size_t capacity() const { return capacity_; }
  void release_cached();  // frees every cached block now

 private:
  struct Header;
  static void release(void* data);
  void keep_or_free(Header* header);
  char* take_cached(size_t block_bytes);

  size_t min_block_, capacity_;
  mutable std::mutex mutex_;
  std::multimap<size_t, Header*> free_;  // by block size
  CpuBlockCacheStats stats_;
};

// The process-wide instance, made LibTorch's CPU allocator on the first call
// (later calls return it unchanged). Tensors allocated before keep their old
// allocator. It is never destroyed: tensors may outlive static destructors.
CachingCpuAllocator& install_caching_cpu_allocator(size_t min_block, size_t capacity);

// Frees what the installed instance holds (nothing when none is installed).
// The trainer calls it between a step's phases: blocks are reused within a
// phase's micro-batch loop, and one phase's idle blocks would otherwise add
// to the next phase's peak.
void release_cached_cpu_blocks();

}  // namespace opd
