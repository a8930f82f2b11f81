// Private to src/ops: the fused CPU row loops, written so that GCC vectorises
// every one (`omp simd` with -fopenmp-simd -fno-trapping-math, no calls but
// the inlined exp below). Included by one translation unit per instruction
// set (softmax_rows_{baseline,avx2,avx512}.cpp, each built with its own -march);
// the anonymous namespace keeps each copy private to its unit, so no
// AVX-512 code can be linked where the baseline is called.
#pragma once

#include "softmax_rows_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#define OPD_ALWAYS_INLINE inline __attribute__((always_inline))

namespace opd::ops::cpu {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// Rows are summed in blocks of this many elements in fp32 lanes, and the
// block sums in double: the error of a 152k-term sum stays near 1e-7.
constexpr int64_t kSumBlock = 2048;

OPD_ALWAYS_INLINE float to_float(float x) { return x; }
OPD_ALWAYS_INLINE float to_float(uint16_t bf16) {
  const uint32_t bits = uint32_t(bf16) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

template <typename T> OPD_ALWAYS_INLINE T from_float(float x);
template <> OPD_ALWAYS_INLINE float from_float<float>(float x) { return x; }
template <> OPD_ALWAYS_INLINE uint16_t from_float<uint16_t>(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;  // nearest even
  return x != x ? uint16_t(0x7FC0) : uint16_t(rounded);
}

// exp(x) in fp32 without a library call, so loops around it vectorise:
// x = n ln2 + r with |r| <= ln2 / 2, e^r by its Taylor series to degree 7
// (truncation < 1e-8 relative), 2^n put into the exponent bits. Arguments
// below -87 (where fp32 leaves the normal range) give 0, -inf included; NaN
// stays NaN. Callers only pass x - max <= 0.
OPD_ALWAYS_INLINE float exp_approx(float x) {
  // Plain selects, not std::min/max/floor: those keep GCC from vectorising.
  float xc = x < -87.0f ? -87.0f : x;
  xc = xc > 88.0f ? 88.0f : xc;
  // Round to nearest by adding and subtracting 1.5 * 2^23.
  const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (xc - n * 0.693145751953125f) - n * 1.42860682030941723212e-6f;
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  float y = x < -87.0f ? 0.0f : p * scale;
  y = x != x ? x : y;
  return y;
}

template <typename T>
OPD_ALWAYS_INLINE float row_max(const T* x, int64_t n) {
  float m = kNegInf;
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < n; ++i) {
    const float v = to_float(x[i]);
    m = v > m ? v : m;
  }
  return m;
}

template <typename T>
RowSoftmax softmax_row_impl(const T* x, int64_t n, float* entropy) {
  const float m = row_max(x, n);
  double sum = 0, weighted = 0;  // sum e, sum e (x - m)
  for (int64_t b = 0; b < n; b += kSumBlock) {
    const int64_t e = std::min(n, b + kSumBlock);
    float s = 0, w = 0;
    if (entropy) {
#pragma omp simd reduction(+ : s, w)
      for (int64_t i = b; i < e; ++i) {
        const float d = to_float(x[i]) - m;
        const float p = exp_approx(d);
        s += p;
        w += p > 0 ? p * d : 0.0f;  // -inf logits: 0, not 0 * -inf
      }
    } else {
#pragma omp simd reduction(+ : s)
      for (int64_t i = b; i < e; ++i) s += exp_approx(to_float(x[i]) - m);
    }
    sum += s;
    weighted += w;
  }
  const double log_sum = std::log(sum);
  if (entropy) *entropy = float(log_sum - weighted / sum);
  return {m, float(log_sum)};
}

template <typename T>
void scaled_softmax_impl(const T* x, int64_t n, RowSoftmax sm, float scale, T* out) {
  const float shift = sm.max, log_sum = sm.log_sum;
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    out[i] = from_float<T>(scale * exp_approx((to_float(x[i]) - shift) - log_sum));
  }
}

template <typename T>
void topk_impl(const T* x, int64_t n, int64_t k, int64_t* ids) {
  // A min-heap of the k best (value, id) seen so far; its top is the bar a
  // new element must beat. Blocks whose max is under the bar are skipped
  // with one vectorised pass.
  using Entry = std::pair<float, int64_t>;
  auto worse = [](const Entry& a, const Entry& b) { return a.first > b.first; };
  std::vector<Entry> heap;
  heap.reserve(k);
  auto value = [&](int64_t i) {
    const float v = to_float(x[i]);
    return v != v ? kNegInf : v;  // NaN ranks below every number
  };
  for (int64_t i = 0; i < k; ++i) heap.emplace_back(value(i), i);
  std::make_heap(heap.begin(), heap.end(), worse);
  constexpr int64_t kBlock = 64;
  for (int64_t b = k; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    if (row_max(x + b, e - b) <= heap.front().first) continue;
    for (int64_t i = b; i < e; ++i) {
      const float v = value(i);
      if (v <= heap.front().first) continue;
      std::pop_heap(heap.begin(), heap.end(), worse);
      heap.back() = {v, i};
      std::push_heap(heap.begin(), heap.end(), worse);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), worse);  // descending by value
  for (int64_t j = 0; j < k; ++j) ids[j] = heap[j].second;
}

template <typename S, typename T>
KlRow kl_row_impl(const S* s, const T* t, int64_t n, bool forward) {
  KlRow row;
  row.s.max = row_max(s, n);
  row.t.max = row_max(t, n);
  double sum_s = 0, sum_t = 0, cross = 0;
  for (int64_t b = 0; b < n; b += kSumBlock) {
    const int64_t e = std::min(n, b + kSumBlock);
    float ss = 0, st = 0, c = 0;
#pragma omp simd reduction(+ : ss, st, c)
    for (int64_t i = b; i < e; ++i) {
      const float ds = to_float(s[i]) - row.s.max;
      const float dt = to_float(t[i]) - row.t.max;
      const float ps = exp_approx(ds);
      const float pt = exp_approx(dt);
      ss += ps;
      st += pt;
      // The weighting side's unnormalised p times the log-ratio of the
      // shifted logits; p = 0 gives 0 whatever the other side is.
      const float weight = forward ? pt : ps;
      c += weight > 0 ? weight * (forward ? dt - ds : ds - dt) : 0.0f;
    }
    sum_s += ss;
    sum_t += st;
    cross += c;
  }
  const double log_sum_s = std::log(sum_s), log_sum_t = std::log(sum_t);
  row.s.log_sum = float(log_sum_s);
  row.t.log_sum = float(log_sum_t);
  // sum p_w (log p_w - log p_o) = cross / sum_w - log_sum_w + log_sum_o.
  row.kl = forward ? float(cross / sum_t - log_sum_t + log_sum_s)
                   : float(cross / sum_s - log_sum_s + log_sum_t);
  return row;
}

template <typename S, typename T>
void kl_row_grad_impl(const S* s, const T* t, int64_t n, bool forward, const KlRow& row,
                      float g, S* out) {
  if (forward) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const float ps = exp_approx((to_float(s[i]) - row.s.max) - row.s.log_sum);
      const float pt = exp_approx((to_float(t[i]) - row.t.max) - row.t.log_sum);
      out[i] = from_float<S>(g * (ps - pt));
    }
  } else {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) {
      const float ls = (to_float(s[i]) - row.s.max) - row.s.log_sum;
      const float lt = (to_float(t[i]) - row.t.max) - row.t.log_sum;
      const float ps = exp_approx(ls);
      out[i] = from_float<S>(ps > 0 ? g * ps * ((ls - lt) - row.kl) : 0.0f);
    }
  }
}

// The table of entry points compiled by the including unit.
RowKernels loop_kernels() {
  RowKernels k;
  k.softmax_f32 = &softmax_row_impl<float>;
  k.softmax_bf16 = &softmax_row_impl<uint16_t>;
  k.scaled_f32 = &scaled_softmax_impl<float>;
  k.scaled_bf16 = &scaled_softmax_impl<uint16_t>;
  k.topk_f32 = &topk_impl<float>;
  k.topk_bf16 = &topk_impl<uint16_t>;
  k.kl_f32 = &kl_row_impl<float, float>;
  k.kl_bf16 = &kl_row_impl<uint16_t, uint16_t>;
  k.kl_grad_f32 = &kl_row_grad_impl<float, float>;
  k.kl_grad_bf16 = &kl_row_grad_impl<uint16_t, uint16_t>;
  return k;
}

}  // namespace
}  // namespace opd::ops::cpu

#undef OPD_ALWAYS_INLINE
