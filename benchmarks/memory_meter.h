// Peak memory of a region of code, for the benchmarks: on the CPU through a
// counting wrapper around LibTorch's CPU allocator, on CUDA through the
// caching allocator's own statistics; and the device synchronisation that
// timing a region with host clocks needs.
#pragma once

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include <c10/core/Device.h>

#if OPD_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace opd::bench {

// Wraps the CPU allocator and counts the bytes it holds. Install once, before
// any tensor that should be counted is allocated.
class CountingCpuAllocator final : public c10::Allocator {
 public:
  static CountingCpuAllocator& install() {
    static CountingCpuAllocator instance(c10::GetCPUAllocator());
    instance_ = &instance;
    c10::SetCPUAllocator(&instance, /*priority=*/100);
    return instance;
  }

  // The DataPtr's context is its data pointer, as raw_allocate (used by
  // oneDNN's scratch buffers inside at::mm) requires; the inner allocation is
  // found again through a map.
  c10::DataPtr allocate(size_t n) override {
    auto inner = base_->allocate(n);
    void* data = inner.get();
    const auto device = inner.device();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks_.emplace(data, Block{std::move(inner), n});
    }
    add(static_cast<int64_t>(n));
    return {data, data, &release, device};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
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
  };

  explicit CountingCpuAllocator(c10::Allocator* base) : base_(base) {}
  static void release(void* data) {
    auto& self = *instance_;
    c10::DataPtr inner;  // frees the allocation when it leaves scope, outside the lock
    size_t size = 0;
    {
      std::lock_guard<std::mutex> lock(self.mutex_);
      auto it = self.blocks_.find(data);
      if (it == self.blocks_.end()) return;
      inner = std::move(it->second.inner);
      size = it->second.size;
      self.blocks_.erase(it);
    }
    self.add(-static_cast<int64_t>(size));
  }
  void add(int64_t delta) const {
    const int64_t now = current_.fetch_add(delta) + delta;
    int64_t seen = peak_.load();
    while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
    }
  }

  static inline CountingCpuAllocator* instance_ = nullptr;
  c10::Allocator* base_;
  std::mutex mutex_;
  std::unordered_map<void*, Block> blocks_;
  mutable std::atomic<int64_t> current_{0}, peak_{0};
};

// Bytes allocated at the peak of the region between start() and peak_extra(),
// above what was allocated at start(); peak() is the peak with what was
// there at start() included.
class MemoryMeter {
 public:
  explicit MemoryMeter(bool cuda, c10::DeviceIndex index = 0) : cuda_(cuda), index_(index < 0 ? 0 : index) {}
  explicit MemoryMeter(const c10::Device& device)
      : MemoryMeter(device.is_cuda(), device.has_index() ? device.index() : 0) {}

  void start() {
#if OPD_WITH_CUDA
    if (cuda_) {
      using namespace c10::cuda::CUDACachingAllocator;
      resetPeakStats(index_);
      base_ = getDeviceStats(index_).allocated_bytes[0].current;
      return;
    }
#endif
    auto& cpu = CountingCpuAllocator::install();
    cpu.reset_peak();
    base_ = cpu.current();
  }

  int64_t peak() const {
#if OPD_WITH_CUDA
    if (cuda_) return c10::cuda::CUDACachingAllocator::getDeviceStats(index_).allocated_bytes[0].peak;
#endif
    return CountingCpuAllocator::install().peak();
  }
  int64_t peak_extra() const { return peak() - base_; }

  // What the caching allocator holds from the driver at its peak (CUDA; 0 on
  // the CPU): what another process on the GPU could not have had.
  int64_t peak_reserved() const {
#if OPD_WITH_CUDA
    if (cuda_) return c10::cuda::CUDACachingAllocator::getDeviceStats(index_).reserved_bytes[0].peak;
#endif
    return 0;
  }

 private:
  bool cuda_;
  c10::DeviceIndex index_;
  int64_t base_ = 0;
};

// Waits for the work queued on `device` (a no-op on the CPU), so that host
// clocks around a region time the device work in it.
inline void synchronize(const c10::Device& device) {
#if OPD_WITH_CUDA
  if (device.is_cuda()) at::cuda::getCurrentCUDAStream(device.has_index() ? device.index() : -1).synchronize();
#else
  (void)device;
#endif
}

}  // namespace opd::bench
