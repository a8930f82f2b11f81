#include "sample_tokens.cuh"

#include "radix_histogram.cuh"
#include "softmax_row.cuh"

namespace opd::kernels {
namespace {

using device::for_each_in_row;
using device::for_each_uniform;
using device::order_key;

constexpr int kThreads = 512;
constexpr int kBins = 256;

// The largest value of a row and its first index.
struct ArgMax {
  float v = device::kNegInf;
  int64_t i = INT64_MAX;
};
__device__ __forceinline__ void keep_larger(ArgMax& a, const ArgMax& b) {
  if (b.v > a.v || (b.v == a.v && b.i < a.i)) a = b;
}
__device__ __forceinline__ ArgMax shfl_xor(const ArgMax& v, int off) {
  return {__shfl_xor_sync(0xFFFFFFFFu, v.v, off), __shfl_xor_sync(0xFFFFFFFFu, v.i, off)};
}

// What the block's threads share between the passes over a row.
struct Shared {
  double sums[kThreads];       // per-thread chunk masses, then their exclusive prefix sums
  int64_t last_kept[kThreads]; // per-thread last kept id (-1: none)
  int counts[kBins];
  double masses[kBins];
  uint32_t prefix;             // the key bits a radix select has fixed so far
  int need_count;
  double need_mass;
  double total;
  int64_t chosen;
};

__device__ __forceinline__ void add_to_bin(int* hist, unsigned digit, float) { device::count<kBins>(hist, digit); }
__device__ __forceinline__ void add_to_bin(double* hist, unsigned digit, float w) {
  device::add_mass<kBins>(hist, digit, w);
}

// The largest key K such that the row's candidates with key >= K weigh at
// least `need` in all: a radix walk, 8 bits a pass from the top, over the
// candidates whose keys match the bits fixed so far. candidate(v, key, w)
// says whether value v takes part and sets its 32-bit key and weight; W is
// int to count candidates (the k-th largest) or double to sum their masses
// (the top-p cut).
template <typename W, typename T, typename Candidate>
__device__ uint32_t radix_select(const T* x, int64_t n, W need, Candidate candidate, W* hist, W& shared_need,
                                 uint32_t& prefix) {
  if (threadIdx.x == 0) prefix = 0, shared_need = need;
  uint32_t mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < kBins; b += kThreads) hist[b] = 0;
    __syncthreads();
    const uint32_t want = prefix;
    for_each_uniform(x, n, [&](int64_t, float v, bool valid) {
      uint32_t key = 0;
      float w = 0.f;
      const bool match = valid && candidate(v, key, w) && (key & mask) == want;
      add_to_bin(hist, match ? (key >> shift) & 0xFFu : kBins, match ? w : 0.f);
    });
    __syncthreads();
    if (threadIdx.x == 0) {
      W above = 0;
      int d = kBins - 1;
      for (; d > 0 && above + hist[d] < shared_need; --d) above += hist[d];
      shared_need -= above;
      prefix |= uint32_t(d) << shift;
    }
    mask |= 0xFFu << shift;
    __syncthreads();
  }
  return prefix;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) sample_tokens_kernel(SampleTokensParams p) {
  __shared__ Shared s;
  __shared__ ArgMax arg_scratch[kThreads / 32];
  const int64_t r = blockIdx.x, n = p.logits.layout.vocab;
  const T* x = static_cast<const T*>(p.logits.row(r));

  ArgMax best;
  for_each_in_row(x, n, [&](int64_t i, float v) { keep_larger(best, ArgMax{v, i}); });
  best = device::block_combine(best, arg_scratch, [](ArgMax& a, const ArgMax& b) { keep_larger(a, b); });
  const float max = best.v, temperature = p.temperature;
  auto e_of = [=](float v) { return expf((v - max) / temperature); };

  float t = 0.f;  // keep e >= t; the argmax has e = 1
  if (p.top_k > 0 && p.top_k < n) {
    // exp is monotone: the k-th largest e is the k-th largest logit's.
    const uint32_t kth = radix_select<int>(x, n, static_cast<int>(p.top_k), [](float v, uint32_t& key, float&) {
      key = order_key(v);
      return true;
    }, s.counts, s.need_count, s.prefix);
    t = fmaxf(t, e_of(device::key_value(kth)));
  }
  if (p.top_p < 1.0) {
    double mass = 0;
    for_each_in_row(x, n, [&](int64_t, float v) {
      const float e = e_of(v);
      if (e >= t && e > 0.f) mass += e;
    });
    mass = device::block_combine(mass, s.sums, [](double& a, double b) { a += b; });
    // The largest kept e such that the kept values >= it hold top_p of the
    // mass; e >= 0, so its raw bits order like its values.
    const float t_kept = t;
    const uint32_t cut = radix_select<double>(x, n, p.top_p * mass, [=](float v, uint32_t& key, float& w) {
      const float e = e_of(v);
      key = __float_as_uint(e), w = e;
      return e >= t_kept && e > 0.f;
    }, s.masses, s.need_mass, s.prefix);
    t = fmaxf(t, __uint_as_float(cut));
  }
  if (p.min_p > 0.f) t = fmaxf(t, p.min_p);

  // The draw: each thread sums the kept mass of its contiguous chunk of ids,
  // the chunks' exclusive prefix sums place u * total in one chunk, and that
  // chunk's thread walks it id by id.
  const int64_t chunk = (n + kThreads - 1) / kThreads;
  const int64_t lo = threadIdx.x * chunk < n ? threadIdx.x * chunk : n, hi = lo + chunk < n ? lo + chunk : n;
  double mine = 0;
  int64_t last = -1;
  for (int64_t i = lo; i < hi; ++i) {
    const float e = e_of(device::to_float(x[i]));
    if (e >= t) mine += e, last = i;
  }
  s.sums[threadIdx.x] = mine;
  s.last_kept[threadIdx.x] = last;
  __syncthreads();
  if (threadIdx.x == 0) {
    double acc = 0;
    int64_t last_kept = -1;
    for (int j = 0; j < kThreads; ++j) {
      const double m = s.sums[j];
      s.sums[j] = acc;
      acc += m;
      if (s.last_kept[j] >= 0) last_kept = s.last_kept[j];
    }
    s.total = acc;
    s.chosen = last_kept;  // rounding past the last kept id: take it
  }
  __syncthreads();
  const double target = p.uniforms[r] * s.total, before = s.sums[threadIdx.x];
  if (mine > 0 && before <= target && target < before + mine) {
    double acc = before;
    int64_t pick = last;
    for (int64_t i = lo; i < hi; ++i) {
      const float e = e_of(device::to_float(x[i]));
      if (e < t) continue;
      acc += e;
      if (acc > target) {
        pick = i;
        break;
      }
    }
    s.chosen = pick;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    const int64_t token = s.chosen;
    p.tokens[r] = token;
    p.logprobs[r] = static_cast<float>(log(double(e_of(device::to_float(x[token]))) / s.total));
  }
}

}  // namespace

cudaError_t sample_tokens(const SampleTokensParams& p, cudaStream_t stream) {
  if (p.logits.layout.rows == 0) return cudaSuccess;
  if (!(p.temperature > 0.f) || p.top_k < 0 || p.top_k > p.logits.layout.vocab || !(p.top_p > 0.0 && p.top_p <= 1.0) ||
      !(p.min_p >= 0.f && p.min_p < 1.f)) {
    return cudaErrorInvalidValue;
  }
  const dim3 grid(static_cast<unsigned>(p.logits.layout.rows));
  if (p.logits.type == LogitsType::kFloat32) {
    sample_tokens_kernel<float><<<grid, kThreads, 0, stream>>>(p);
  } else {
    sample_tokens_kernel<__nv_bfloat16><<<grid, kThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

}  // namespace opd::kernels
