// Shared by the op tests: how close a fused op's gradient must come to its
// reference, by dtype (bf16 logits carry 8 bits of mantissa).
#pragma once

#include <c10/core/ScalarType.h>

namespace opd::ops {

inline double grad_tol(at::ScalarType dtype) { return dtype == at::kBFloat16 ? 1e-2 : 1e-5; }

}  // namespace opd::ops
