#include "token_logprob.cuh"

#include <cfloat>

namespace opd::kernels {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ float from_float<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16(x);
}

// Merges two (max, sum of exp(x - max)) pairs.
__device__ __forceinline__ void merge(float& m, float& s, float om, float os) {
  const float nm = fmaxf(m, om);
  if (nm == -FLT_MAX) return;
  s = s * __expf(m - nm) + os * __expf(om - nm);
  m = nm;
}

__device__ void block_reduce_max_sum(float& m, float& s) {
  __shared__ float sm[kThreads / 32], ss[kThreads / 32];
  for (int off = 16; off > 0; off >>= 1) {
    merge(m, s, __shfl_xor_sync(0xffffffffu, m, off), __shfl_xor_sync(0xffffffffu, s, off));
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) { sm[warp] = m; ss[warp] = s; }
  __syncthreads();
  if (warp == 0) {
    m = lane < kThreads / 32 ? sm[lane] : -FLT_MAX;
    s = lane < kThreads / 32 ? ss[lane] : 0.f;
    for (int off = 16; off > 0; off >>= 1) {
      merge(m, s, __shfl_xor_sync(0xffffffffu, m, off), __shfl_xor_sync(0xffffffffu, s, off));
    }
    if (lane == 0) { sm[0] = m; ss[0] = s; }
  }
  __syncthreads();
  m = sm[0];
  s = ss[0];
}

template <typename T>
__global__ void token_logprob_forward_kernel(TokenLogprobParams p) {
  const int64_t row = blockIdx.x;
  const T* x = static_cast<const T*>(p.logits) + row * p.stride;
  float m = -FLT_MAX, s = 0.f;
  for (int64_t v = threadIdx.x; v < p.vocab; v += kThreads) merge(m, s, to_float(x[v]), 1.f);
  block_reduce_max_sum(m, s);
  if (threadIdx.x == 0) {
    const float lse = m + __logf(s);
    const int64_t target = p.targets[row];
    p.logsumexp[row] = lse;
    p.logprob[row] = target >= 0 ? to_float(x[target]) - lse : 0.f;
  }
}

template <typename T>
__global__ void token_logprob_backward_kernel(TokenLogprobBackwardParams p) {
  const int64_t row = blockIdx.x;
  const T* x = static_cast<const T*>(p.logits) + row * p.stride;
  T* gx = static_cast<T*>(p.grad_logits) + row * p.vocab;
  const int64_t target = p.targets[row];
  const float g = target >= 0 ? p.grad_logprob[row] : 0.f;
  const float lse = p.logsumexp[row];
  for (int64_t v = threadIdx.x; v < p.vocab; v += kThreads) {
    const float softmax = __expf(to_float(x[v]) - lse);
    gx[v] = from_float<T>(g * ((v == target ? 1.f : 0.f) - softmax));
  }
}

}  // namespace

cudaError_t token_logprob_forward(const TokenLogprobParams& p, cudaStream_t stream) {
  if (p.rows == 0) return cudaSuccess;
  if (p.type == LogitsType::kFloat32) {
    token_logprob_forward_kernel<float><<<p.rows, kThreads, 0, stream>>>(p);
  } else {
    token_logprob_forward_kernel<__nv_bfloat16><<<p.rows, kThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

cudaError_t token_logprob_backward(const TokenLogprobBackwardParams& p, cudaStream_t stream) {
  if (p.rows == 0) return cudaSuccess;
  if (p.type == LogitsType::kFloat32) {
    token_logprob_backward_kernel<float><<<p.rows, kThreads, 0, stream>>>(p);
  } else {
    token_logprob_backward_kernel<__nv_bfloat16><<<p.rows, kThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

}  // namespace opd::kernels
