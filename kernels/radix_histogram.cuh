// Device helpers for the radix selects over a row (teacher top-k, sampling):
// a row walk whose trip count is the same for every lane of a warp, and
// histogram adds aggregated per warp, so that a bin every lane hits (the
// values of a row share a few exponents) costs one shared-memory atomic per
// warp instead of 32 serialised ones. CUDA only; no LibTorch.
#pragma once

#include "softmax_row.cuh"

#include <cuda_runtime.h>

#include <cstdint>

namespace opd::kernels::device {

// Calls fn(index, value, valid) for every element of the row with a trip
// count that is the same for all lanes of a warp (lanes past the end get
// valid = false), as the warp-wide intrinsics below need.
template <typename T, typename Fn>
__device__ __forceinline__ void for_each_uniform(const T* x, int64_t n, Fn fn) {
  constexpr int kVec = VecWidth<T>::value;
  int64_t head = 0;
  if (aligned16(x)) {
    const int64_t vectors = n / kVec;
    const uint4* xv = reinterpret_cast<const uint4*>(x);
    for (int64_t base = 0; base < vectors; base += blockDim.x) {
      const int64_t i = base + threadIdx.x;
      float v[kVec] = {};
      if (i < vectors) unpack(__ldg(xv + i), v);
#pragma unroll
      for (int j = 0; j < kVec; ++j) fn(i * kVec + j, v[j], i < vectors);
    }
    head = vectors * kVec;
  }
  for (int64_t base = head; base < n; base += blockDim.x) {
    const int64_t i = base + threadIdx.x;
    fn(i, i < n ? to_float(x[i]) : 0.f, i < n);
  }
}

// Adds one to bin `digit` (kBins = none) for every lane, one atomic per
// distinct digit of the warp. Every lane of the warp must call it.
template <unsigned kBins>
__device__ __forceinline__ void count(int* hist, unsigned digit) {
  const unsigned peers = __match_any_sync(0xFFFFFFFFu, digit);
  const int lane = threadIdx.x & 31;
  if (digit < kBins && lane == __ffs(peers) - 1) atomicAdd(hist + digit, __popc(peers));
}

// Adds `mass` to bin `digit` (kBins = none) for every lane: the lowest lane
// of each digit sums its peers' masses (in lane order) and adds once. Every
// lane of the warp must call it.
template <unsigned kBins>
__device__ __forceinline__ void add_mass(double* hist, unsigned digit, float mass) {
  const unsigned peers = __match_any_sync(0xFFFFFFFFu, digit);
  const int lane = threadIdx.x & 31;
  const bool leader = lane == __ffs(peers) - 1;
  double sum = 0;
#pragma unroll
  for (int j = 0; j < 32; ++j) {
    const float m = __shfl_sync(0xFFFFFFFFu, mass, j);
    if (leader && ((peers >> j) & 1u)) sum += m;
  }
  if (digit < kBins && leader) atomicAdd(hist + digit, sum);
}

}  // namespace opd::kernels::device
