#include "full_vocab_kl.cuh"

#include "softmax_row.cuh"

namespace opd::kernels {
namespace {

using device::kNegInf;

constexpr int kThreads = 512;

// Running statistics of a pair of rows: the weighting side w (the teacher for
// the forward KL, the student for the reverse) and the other side o, each
// relative to its running max: sw = sum e^(w - mw), so = sum e^(o - mo) and
// c = sum e^(w - mw) ((w - mw) - (o - mo)), so that
// KL = c / sw - log sw + log so. Terms with e^(w - mw) = 0 add nothing; one
// with weight > 0 and o = -inf makes c (and the KL) +inf.
struct KlState {
  float mw = kNegInf, sw = 0.f, mo = kNegInf, so = 0.f, c = 0.f;

  __device__ __forceinline__ void rebase_w(float m_new) {
    if (sw > 0.f) {
      const float f = __expf(mw - m_new);
      c = (c + sw * (mw - m_new)) * f;
      sw *= f;
    }
    mw = m_new;
  }
  __device__ __forceinline__ void rebase_o(float m_new) {
    if (sw > 0.f) c += sw * (m_new - mo);
    if (so > 0.f) so *= __expf(mo - m_new);
    mo = m_new;
  }
  __device__ __forceinline__ void add(float w, float o) {
    if (w > mw) rebase_w(w);
    if (o > mo) rebase_o(o);
    const float dw = w - mw, d_o = o - mo;
    const float ew = w == kNegInf ? 0.f : __expf(dw);
    so += o == kNegInf ? 0.f : __expf(d_o);
    sw += ew;
    c += ew > 0.f ? ew * (dw - d_o) : 0.f;
  }
  __device__ __forceinline__ void merge(KlState b) {
    const float w = fmaxf(mw, b.mw), o = fmaxf(mo, b.mo);
    if (w > kNegInf) rebase_w(w), b.rebase_w(w);
    if (o > kNegInf) rebase_o(o), b.rebase_o(o);
    sw += b.sw;
    so += b.so;
    c += b.c;
  }
};

__device__ __forceinline__ KlState shfl_xor(const KlState& v, int off) {
  KlState o;
  o.mw = __shfl_xor_sync(0xFFFFFFFFu, v.mw, off);
  o.sw = __shfl_xor_sync(0xFFFFFFFFu, v.sw, off);
  o.mo = __shfl_xor_sync(0xFFFFFFFFu, v.mo, off);
  o.so = __shfl_xor_sync(0xFFFFFFFFu, v.so, off);
  o.c = __shfl_xor_sync(0xFFFFFFFFu, v.c, off);
  return o;
}

// fn(index, student value, teacher value) over a pair of rows.
template <typename T, typename Fn>
__device__ __forceinline__ void for_each_pair(const T* s, const T* t, int64_t n, Fn fn) {
  constexpr int kVec = device::VecWidth<T>::value;
  int64_t head = 0;
  if (device::aligned16(s) && device::aligned16(t)) {
    const int64_t vectors = n / kVec;
    const uint4* sv = reinterpret_cast<const uint4*>(s);
    const uint4* tv = reinterpret_cast<const uint4*>(t);
    for (int64_t i = threadIdx.x; i < vectors; i += blockDim.x) {
      float a[kVec], b[kVec];
      device::unpack(__ldg(sv + i), a);
      device::unpack(__ldg(tv + i), b);
#pragma unroll
      for (int j = 0; j < kVec; ++j) fn(i * kVec + j, a[j], b[j]);
    }
    head = vectors * kVec;
  }
  for (int64_t i = head + threadIdx.x; i < n; i += blockDim.x) {
    fn(i, device::to_float(s[i]), device::to_float(t[i]));
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) full_vocab_kl_forward_kernel(FullVocabKlParams p) {
  __shared__ KlState scratch[kThreads / 32];
  const int64_t r = blockIdx.x;
  const T* s = static_cast<const T*>(p.student.row(r));
  const T* t = static_cast<const T*>(p.teacher.row(r));
  KlState st;
  if (p.forward) {
    for_each_pair(s, t, p.student.layout.vocab, [&](int64_t, float a, float b) { st.add(b, a); });
  } else {
    for_each_pair(s, t, p.student.layout.vocab, [&](int64_t, float a, float b) { st.add(a, b); });
  }
  st = device::block_combine(st, scratch, [](KlState& a, const KlState& b) { a.merge(b); });
  if (threadIdx.x == 0) {
    const float log_sw = __logf(st.sw), log_so = __logf(st.so);
    float* out = p.stats + r * 5;
    // Student first: (max, log_sum) of s, then of t, then the KL.
    out[0] = p.forward ? st.mo : st.mw;
    out[1] = p.forward ? log_so : log_sw;
    out[2] = p.forward ? st.mw : st.mo;
    out[3] = p.forward ? log_sw : log_so;
    out[4] = st.c / st.sw - log_sw + log_so;
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) full_vocab_kl_backward_kernel(FullVocabKlBackwardParams p) {
  const int64_t r = blockIdx.x, n = p.student.layout.vocab;
  const T* s = static_cast<const T*>(p.student.row(r));
  const T* t = static_cast<const T*>(p.teacher.row(r));
  T* out = static_cast<T*>(p.grad_student) + r * n;
  const float* st = p.stats + r * 5;
  const float s_shift = st[0], s_log_sum = st[1], t_shift = st[2], t_log_sum = st[3], kl = st[4];
  const float g = p.grad_kl[r];
  const bool forward = p.forward;
  for_each_pair(s, t, n, [&](int64_t i, float a, float b) {
    const float ls = (a - s_shift) - s_log_sum, lt = (b - t_shift) - t_log_sum;
    const float ps = __expf(ls);
    const float grad = forward ? g * (ps - __expf(lt)) : (ps > 0.f ? g * ps * ((ls - lt) - kl) : 0.f);
    out[i] = device::from_float<T>(grad);
  });
}

template <typename Kernel, typename Params>
cudaError_t launch(Kernel kernel, const Params& p, int64_t rows, cudaStream_t stream) {
  if (rows == 0) return cudaSuccess;
  kernel<<<dim3(static_cast<unsigned>(rows)), kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace

cudaError_t full_vocab_kl_forward(const FullVocabKlParams& p, cudaStream_t stream) {
  return p.student.type == LogitsType::kFloat32
             ? launch(full_vocab_kl_forward_kernel<float>, p, p.student.layout.rows, stream)
             : launch(full_vocab_kl_forward_kernel<__nv_bfloat16>, p, p.student.layout.rows, stream);
}

cudaError_t full_vocab_kl_backward(const FullVocabKlBackwardParams& p, cudaStream_t stream) {
  return p.student.type == LogitsType::kFloat32
             ? launch(full_vocab_kl_backward_kernel<float>, p, p.student.layout.rows, stream)
             : launch(full_vocab_kl_backward_kernel<__nv_bfloat16>, p, p.student.layout.rows, stream);
}

}  // namespace opd::kernels
