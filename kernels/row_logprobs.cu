#include "row_logprobs.cuh"

#include "softmax_row.cuh"

namespace opd::kernels {
namespace {

using device::SoftmaxState;

constexpr int kThreads = 512;

template <typename T, bool kEntropy>
__global__ void __launch_bounds__(kThreads) row_logprobs_forward_kernel(RowLogprobsParams p) {
  __shared__ SoftmaxState scratch[kThreads / 32];
  const int64_t r = blockIdx.x;
  const T* x = static_cast<const T*>(p.logits.row(r));
  SoftmaxState st;
  device::for_each_in_row(x, p.logits.layout.vocab, [&](int64_t, float v) { st.add<kEntropy>(v); });
  st = device::block_combine(st, scratch, [](SoftmaxState& a, const SoftmaxState& b) { a.merge(b); });
  const float log_sum = __logf(st.s);
  if (threadIdx.x == 0) {
    p.max[r] = st.m;
    p.log_sum[r] = log_sum;
    if (kEntropy) p.entropy[r] = log_sum - st.w / st.s;
  }
  for (int64_t j = threadIdx.x; j < p.k; j += kThreads) {
    const int64_t id = p.ids[r * p.k + j];
    p.logp[r * p.k + j] = (device::to_float(x[id]) - st.m) - log_sum;
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) row_logprobs_backward_kernel(RowLogprobsBackwardParams p) {
  __shared__ float scratch[kThreads / 32];
  const int64_t r = blockIdx.x, n = p.logits.layout.vocab;
  const T* x = static_cast<const T*>(p.logits.row(r));
  const float* g = p.grad_logp + r * p.k;
  float part = 0.f;
  for (int64_t j = threadIdx.x; j < p.k; j += kThreads) part += g[j];
  const float g_sum = device::block_combine(part, scratch, [](float& a, float b) { a += b; });
  device::write_row_gradient(x, n, p.max[r], p.log_sum[r], p.ids + r * p.k, g, p.k, g_sum,
                             static_cast<T*>(p.grad_logits) + r * n);
}

}  // namespace

cudaError_t row_logprobs_forward(const RowLogprobsParams& p, cudaStream_t stream) {
  if (p.logits.layout.rows == 0) return cudaSuccess;
  const dim3 grid(static_cast<unsigned>(p.logits.layout.rows));
  const bool f32 = p.logits.type == LogitsType::kFloat32;
  if (f32 && p.entropy) {
    row_logprobs_forward_kernel<float, true><<<grid, kThreads, 0, stream>>>(p);
  } else if (f32) {
    row_logprobs_forward_kernel<float, false><<<grid, kThreads, 0, stream>>>(p);
  } else if (p.entropy) {
    row_logprobs_forward_kernel<__nv_bfloat16, true><<<grid, kThreads, 0, stream>>>(p);
  } else {
    row_logprobs_forward_kernel<__nv_bfloat16, false><<<grid, kThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

cudaError_t row_logprobs_backward(const RowLogprobsBackwardParams& p, cudaStream_t stream) {
  if (p.logits.layout.rows == 0) return cudaSuccess;
  const dim3 grid(static_cast<unsigned>(p.logits.layout.rows));
  if (p.logits.type == LogitsType::kFloat32) {
    row_logprobs_backward_kernel<float><<<grid, kThreads, 0, stream>>>(p);
  } else {
    row_logprobs_backward_kernel<__nv_bfloat16><<<grid, kThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

}  // namespace opd::kernels
