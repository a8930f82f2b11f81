#include "teacher_topk.cuh"

#include "radix_histogram.cuh"
#include "softmax_row.cuh"

namespace opd::kernels {
namespace {

using device::count;
using device::for_each_uniform;
using device::order_key;
using device::SoftmaxState;

constexpr int kThreads = 512;
constexpr int kBins = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads) teacher_topk_kernel(TeacherTopkParams p) {
  __shared__ int hist[kBins];
  __shared__ SoftmaxState scratch[kThreads / 32];
  __shared__ uint32_t prefix, need;               // the key bits fixed so far; how many == prefix to take
  __shared__ unsigned cand_key[kTeacherTopkMaxK];  // the selected keys and their ids
  __shared__ int cand_id[kTeacherTopkMaxK];
  __shared__ int taken_above, taken_equal;

  const int64_t r = blockIdx.x, n = p.logits.layout.vocab, k = p.k;
  const T* x = static_cast<const T*>(p.logits.row(r));
  // A bf16 value is the top 16 bits of its float: its key is 16 bits wide and
  // two digit passes decide it; fp32 keys take four.
  constexpr int kKeyShift = sizeof(T) == 2 ? 16 : 0;
  constexpr int kTopShift = sizeof(T) == 2 ? 8 : 24;

  SoftmaxState st;
  uint32_t mask = 0;
  if (threadIdx.x == 0) prefix = 0, need = static_cast<uint32_t>(k);
  for (int shift = kTopShift; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < kBins; b += kThreads) hist[b] = 0;
    __syncthreads();
    const uint32_t want = prefix;
    for_each_uniform(x, n, [&](int64_t, float v, bool valid) {
      if (shift == kTopShift && valid) st.add(v);  // the first pass also takes the softmax statistics
      const uint32_t key = order_key(v) >> kKeyShift;
      count<kBins>(hist, valid && (key & mask) == want ? (key >> shift) & 0xFFu : kBins);
    });
    __syncthreads();
    if (threadIdx.x == 0) {
      // The digit holding the need-th largest key among those that match so far.
      uint32_t above = 0;
      int d = kBins - 1;
      for (; d > 0 && above + hist[d] < need; --d) above += hist[d];
      need -= above;
      prefix |= uint32_t(d) << shift;
    }
    mask |= 0xFFu << shift;
    __syncthreads();
  }
  st = device::block_combine(st, scratch, [](SoftmaxState& a, const SoftmaxState& b) { a.merge(b); });

  // Collect: every key above the threshold, and the first `need` equal to it.
  const uint32_t threshold = prefix;
  const int above_count = static_cast<int>(k) - static_cast<int>(need);
  if (threadIdx.x == 0) taken_above = 0, taken_equal = 0;
  __syncthreads();
  for_each_uniform(x, n, [&](int64_t i, float v, bool valid) {
    if (!valid) return;
    const uint32_t key = order_key(v) >> kKeyShift;
    int slot = -1;
    if (key > threshold) {
      slot = atomicAdd(&taken_above, 1);
    } else if (key == threshold) {
      const int e = atomicAdd(&taken_equal, 1);
      if (e < static_cast<int>(need)) slot = above_count + e;
    }
    if (slot >= 0) cand_key[slot] = key, cand_id[slot] = static_cast<int>(i);
  });
  __syncthreads();

  // Bitonic sort of the k candidates, descending by key, padded to a power of two.
  int size = 1;
  while (size < k) size <<= 1;
  for (int i = static_cast<int>(k) + threadIdx.x; i < size; i += kThreads) cand_key[i] = 0, cand_id[i] = -1;
  __syncthreads();
  for (int width = 2; width <= size; width <<= 1) {
    for (int stride = width >> 1; stride > 0; stride >>= 1) {
      for (int i = threadIdx.x; i < size; i += kThreads) {
        const int j = i ^ stride;
        if (j > i) {
          const bool descending = (i & width) == 0;
          const bool swap = descending ? cand_key[i] < cand_key[j] : cand_key[i] > cand_key[j];
          if (swap) {
            const unsigned tk = cand_key[i];
            cand_key[i] = cand_key[j], cand_key[j] = tk;
            const int ti = cand_id[i];
            cand_id[i] = cand_id[j], cand_id[j] = ti;
          }
        }
      }
      __syncthreads();
    }
  }

  const float log_sum = __logf(st.s);
  if (threadIdx.x == 0) p.entropy[r] = log_sum - st.w / st.s;
  for (int j = threadIdx.x; j < k; j += kThreads) {
    const int id = cand_id[j];
    p.ids[r * k + j] = id;
    p.logp[r * k + j] = (device::to_float(x[id]) - st.m) - log_sum;
  }
}

}  // namespace

cudaError_t teacher_topk(const TeacherTopkParams& p, cudaStream_t stream) {
  if (p.logits.layout.rows == 0) return cudaSuccess;
  if (p.k < 1 || p.k > kTeacherTopkMaxK || p.k > p.logits.layout.vocab) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(p.logits.layout.rows));
  if (p.logits.type == LogitsType::kFloat32) {
    teacher_topk_kernel<float><<<grid, kThreads, 0, stream>>>(p);
  } else {
    teacher_topk_kernel<__nv_bfloat16><<<grid, kThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

}  // namespace opd::kernels
