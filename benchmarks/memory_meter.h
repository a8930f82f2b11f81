// Peak memory of a region of code, for the benchmarks: on the CPU through a
// counting wrapper around LibTorch's CPU allocator, on CUDA through the
// caching allocator's own statistics.
#pragma once

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>

#if OPD_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace opd::bench {

// Wraps the CPU allocator and counts the bytes it holds. Install once, before
// any tensor that should be counted is allocated.
class CountingCpuAllocator final : public c10::Allocator {
 public:
  static CountingCpuAllocator& install() {
    static CountingCpuAllocator instance(c10::GetCPUAllocator());
    c10::SetCPUAllocator(&instance, /*priority=*/100);
    return instance;
  }

  c10::DataPtr allocate(size_t n) override {
    auto inner = base_->allocate(n);
    add(static_cast<int64_t>(n));
    auto* block = new Block{std::move(inner), n, this};
    void* data = block->inner.get();
    return {data, block, &release, block->inner.device()};
  }
  c10::DeleterFnPtr raw_deleter() const override { return nullptr; }
  void copy_data(void* dest, const void* src, std::size_t count) const override {
    std::memcpy(dest, src, count);
  }

  int64_t current() const { return current_.load(); }
  int64_t peak() const { return peak_.load(); }
  void reset_peak() { peak_.store(current_.load()); }

 private:
  struct Block {
    c10::DataPtr inner;
    size_t size;
    const CountingCpuAllocator* owner;
  };

  explicit CountingCpuAllocator(c10::Allocator* base) : base_(base) {}
  static void release(void* ctx) {
    auto* block = static_cast<Block*>(ctx);
    block->owner->add(-static_cast<int64_t>(block->size));
    delete block;  // frees through the inner DataPtr
  }
  void add(int64_t delta) const {
    const int64_t now = current_.fetch_add(delta) + delta;
    int64_t seen = peak_.load();
    while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
    }
  }

  c10::Allocator* base_;
  mutable std::atomic<int64_t> current_{0}, peak_{0};
};

// Bytes allocated at the peak of the region between start() and peak_extra(),
// above what was allocated at start().
class MemoryMeter {
 public:
  explicit MemoryMeter(bool cuda) : cuda_(cuda) {}

  void start() {
#if OPD_WITH_CUDA
    if (cuda_) {
      using namespace c10::cuda::CUDACachingAllocator;
      resetPeakStats(0);
      base_ = getDeviceStats(0).allocated_bytes[0].current;
      return;
    }
#endif
    auto& cpu = CountingCpuAllocator::install();
    cpu.reset_peak();
    base_ = cpu.current();
  }

  int64_t peak_extra() const {
#if OPD_WITH_CUDA
    if (cuda_) {
      using namespace c10::cuda::CUDACachingAllocator;
      return getDeviceStats(0).allocated_bytes[0].peak - base_;
    }
#endif
    return CountingCpuAllocator::install().peak() - base_;
  }

 private:
  bool cuda_;
  int64_t base_ = 0;
};

}  // namespace opd::bench
