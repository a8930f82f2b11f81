#include "softmax_rows_cpu.h"

#include "softmax_rows_kernels.h"

#include <cstring>

namespace opd::ops::cpu {
namespace {

// The best table this CPU runs, chosen once (by feature, as ATen's dispatch does).
const RowKernels& kernels() {
  static const RowKernels& chosen = [] () -> const RowKernels& {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
      return row_kernels_avx512();
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return row_kernels_avx2();
#endif
    return row_kernels_baseline();
  }();
  return chosen;
}

const float* f32(const void* p) { return static_cast<const float*>(p); }
const uint16_t* bf16(const void* p) { return static_cast<const uint16_t*>(p); }

}  // namespace

float load(const void* row, LogitsType type, int64_t i) {
  if (type == LogitsType::kFloat32) return f32(row)[i];
  const uint32_t bits = uint32_t(bf16(row)[i]) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

void store(void* row, LogitsType type, int64_t i, float v) {
  if (type == LogitsType::kFloat32) {
    static_cast<float*>(row)[i] = v;
    return;
  }
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  const uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;  // nearest even
  static_cast<uint16_t*>(row)[i] = v != v ? uint16_t(0x7FC0) : uint16_t(rounded);
}

RowSoftmax softmax_row(const void* x, LogitsType type, int64_t n, float* entropy) {
  return type == LogitsType::kFloat32 ? kernels().softmax_f32(f32(x), n, entropy)
                                      : kernels().softmax_bf16(bf16(x), n, entropy);
}

void scaled_softmax_row(const void* x, LogitsType type, int64_t n, RowSoftmax sm, float scale,
                        void* out) {
  if (type == LogitsType::kFloat32) {
    kernels().scaled_f32(f32(x), n, sm, scale, static_cast<float*>(out));
  } else {
    kernels().scaled_bf16(bf16(x), n, sm, scale, static_cast<uint16_t*>(out));
  }
}

void topk_row(const void* x, LogitsType type, int64_t n, int64_t k, int64_t* ids) {
  if (type == LogitsType::kFloat32) {
    kernels().topk_f32(f32(x), n, k, ids);
  } else {
    kernels().topk_bf16(bf16(x), n, k, ids);
  }
}

KlRow kl_row(const void* s, const void* t, LogitsType type, int64_t n, bool forward) {
  return type == LogitsType::kFloat32 ? kernels().kl_f32(f32(s), f32(t), n, forward)
                                      : kernels().kl_bf16(bf16(s), bf16(t), n, forward);
}

void kl_row_grad(const void* s, const void* t, LogitsType type, int64_t n, bool forward,
                 const KlRow& row, float g, void* out) {
  if (type == LogitsType::kFloat32) {
    kernels().kl_grad_f32(f32(s), f32(t), n, forward, row, g, static_cast<float*>(out));
  } else {
    kernels().kl_grad_bf16(bf16(s), bf16(t), n, forward, row, g, static_cast<uint16_t*>(out));
  }
}

}  // namespace opd::ops::cpu
