// Device helpers shared by the row kernels: 16-byte loads of fp32 / bf16
// logits, an online softmax state that reads a row once, and block
// reductions. CUDA only; no LibTorch.
#pragma once

#include "row_layout.h"

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <limits>

namespace opd::kernels::device {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Elements of T in one 16-byte vector.
template <typename T> struct VecWidth { static constexpr int value = 16 / sizeof(T); };

// Unpacks a 16-byte vector into floats.
__device__ __forceinline__ void unpack(const uint4& u, float (&v)[4]) {
  v[0] = __uint_as_float(u.x), v[1] = __uint_as_float(u.y);
  v[2] = __uint_as_float(u.z), v[3] = __uint_as_float(u.w);
}
__device__ __forceinline__ void unpack(const uint4& u, float (&v)[8]) {
  const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    v[2 * i] = __uint_as_float(w[i] << 16);
    v[2 * i + 1] = __uint_as_float(w[i] & 0xFFFF0000u);
  }
}

// Packs floats into a 16-byte vector of T (bf16: round to nearest even).
__device__ __forceinline__ uint4 pack(const float (&v)[4]) {
  return make_uint4(__float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]),
                    __float_as_uint(v[3]));
}
__device__ __forceinline__ uint4 pack(const float (&v)[8]) {
  uint32_t w[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const __nv_bfloat162 two = __floats2bfloat162_rn(v[2 * i], v[2 * i + 1]);
    w[i] = *reinterpret_cast<const uint32_t*>(&two);
  }
  return make_uint4(w[0], w[1], w[2], w[3]);
}

// Order-preserving 32-bit key of a float: larger value, larger key. NaN takes
// the key of -inf, so it is never preferred to a number.
__device__ __forceinline__ uint32_t order_key(float v) {
  const uint32_t u = __float_as_uint(v != v ? kNegInf : v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// The float whose order_key is `key`.
__device__ __forceinline__ float key_value(uint32_t key) {
  return __uint_as_float((key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key);
}

__device__ __forceinline__ bool aligned16(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 15u) == 0;
}

// Calls fn(index, value) for every element of a row of n values of T, each
// thread of the block taking every blockDim-th 16-byte vector (and the tail
// element by element). Rows that are not 16-byte aligned go element by element.
template <typename T, typename Fn>
__device__ __forceinline__ void for_each_in_row(const T* x, int64_t n, Fn fn) {
  constexpr int kVec = VecWidth<T>::value;
  int64_t head = 0;
  if (aligned16(x)) {
    const int64_t vectors = n / kVec;
    const uint4* xv = reinterpret_cast<const uint4*>(x);
    for (int64_t i = threadIdx.x; i < vectors; i += blockDim.x) {
      float v[kVec];
      unpack(__ldg(xv + i), v);
#pragma unroll
      for (int j = 0; j < kVec; ++j) fn(i * kVec + j, v[j]);
    }
    head = vectors * kVec;
  }
  for (int64_t i = head + threadIdx.x; i < n; i += blockDim.x) fn(i, to_float(x[i]));
}

// Running softmax statistics of the values a thread has seen, relative to
// their max m: s = sum exp(x - m), w = sum exp(x - m) (x - m) (for the
// entropy log s - w / s). -inf values have weight 0.
struct SoftmaxState {
  float m = kNegInf, s = 0.f, w = 0.f;

  __device__ __forceinline__ void rebase(float m_new) {
    if (s > 0.f) {
      const float f = __expf(m - m_new);
      w = (w + s * (m - m_new)) * f;
      s *= f;
    }
    m = m_new;
  }
  // kEntropy = false leaves w at 0 (and its arithmetic out of the loop).
  template <bool kEntropy = true>
  __device__ __forceinline__ void add(float x) {
    if (x > m) rebase(x);
    const float d = x - m;
    const float e = x == kNegInf ? 0.f : __expf(d);
    s += e;
    if (kEntropy) w += e > 0.f ? e * d : 0.f;
  }
  __device__ __forceinline__ void merge(SoftmaxState o) {
    const float big = fmaxf(m, o.m);
    if (big == kNegInf) return;
    rebase(big);
    o.rebase(big);
    s += o.s;
    w += o.w;
  }
};

__device__ __forceinline__ float shfl_xor(float v, int off) {
  return __shfl_xor_sync(0xFFFFFFFFu, v, off);
}
__device__ __forceinline__ double shfl_xor(double v, int off) {
  return __shfl_xor_sync(0xFFFFFFFFu, v, off);
}
__device__ __forceinline__ SoftmaxState shfl_xor(const SoftmaxState& v, int off) {
  SoftmaxState o;
  o.m = __shfl_xor_sync(0xFFFFFFFFu, v.m, off);
  o.s = __shfl_xor_sync(0xFFFFFFFFu, v.s, off);
  o.w = __shfl_xor_sync(0xFFFFFFFFu, v.w, off);
  return o;
}

// The block's combined value of a per-thread T under `combine` (a member
// merge or a sum), returned to every thread. `scratch` holds one T per warp.
template <typename T, typename Combine>
__device__ __forceinline__ T block_combine(T v, T* scratch, Combine combine) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) combine(v, shfl_xor(v, off));
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? scratch[lane] : T{};
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) combine(v, shfl_xor(v, off));
    if (lane == 0) scratch[0] = v;
  }
  __syncthreads();
  v = scratch[0];
  __syncthreads();  // scratch may be reused right after
  return v;
}

// Writes the gradient of sum_j g_j log p(ids_j) with respect to a row of n
// logits x into out (contiguous, type T):
//   out_v = sum_{j: ids_j = v} g_j - (sum_j g_j) p_v,  p_v = exp(x_v - max - log_sum).
// The dense part goes out in 16-byte stores; each distinct id is then
// rewritten once with its sparse terms, computed in fp32, so a bf16 gradient
// is rounded once. g_sum = sum_j g_j; ids and g hold k entries.
template <typename T>
__device__ __forceinline__ void write_row_gradient(const T* x, int64_t n, float max, float log_sum,
                                                   const int64_t* ids, const float* g, int64_t k,
                                                   float g_sum, T* out) {
  constexpr int kVec = VecWidth<T>::value;
  const float shift = max + 0.f;
  int64_t head = 0;
  if (aligned16(x) && aligned16(out)) {
    const int64_t vectors = n / kVec;
    const uint4* xv = reinterpret_cast<const uint4*>(x);
    uint4* ov = reinterpret_cast<uint4*>(out);
    for (int64_t i = threadIdx.x; i < vectors; i += blockDim.x) {
      float v[kVec];
      unpack(__ldg(xv + i), v);
#pragma unroll
      for (int j = 0; j < kVec; ++j) v[j] = -g_sum * __expf((v[j] - shift) - log_sum);
      __stcs(ov + i, pack(v));  // streaming: the gradient is not read again soon
    }
    head = vectors * kVec;
  }
  for (int64_t i = head + threadIdx.x; i < n; i += blockDim.x) {
    out[i] = from_float<T>(-g_sum * __expf((to_float(x[i]) - shift) - log_sum));
  }
  __syncthreads();  // the dense values are written before the sparse ones replace them
  for (int64_t j = threadIdx.x; j < k; j += blockDim.x) {
    const int64_t v = ids[j];
    bool first = true;
    float sparse = 0.f;
    for (int64_t i = 0; i < k; ++i) {
      if (ids[i] != v) continue;
      first = first && i >= j;
      sparse += g[i];
    }
    if (first) {
      out[v] = from_float<T>(sparse - g_sum * __expf((to_float(x[v]) - shift) - log_sum));
    }
  }
}

}  // namespace opd::kernels::device
