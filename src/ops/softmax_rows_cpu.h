// Private to src/ops: the fused CPU loops over one row of logits that the ops
// here are built from. Each call reads its row(s) (fp32 or bf16) in fp32
// registers, vectorised for AVX-512 / AVX2 with a run-time choice
// (target_clones), so no fp32 copy of a [N, V] tensor is ever written.
//
// Convention: a row's softmax is kept as (max, log_sum) with
//   log p_v = (x_v - max) - log_sum,   log_sum = log sum_v exp(x_v - max),
// never as one logsumexp: at |x| ~ 1e4 an fp32 logsumexp carries an absolute
// error of ~1e-3 into every log-prob.
#pragma once

#include "row_layout.h"

#include <cstdint>

namespace opd::ops::cpu {

using kernels::LogitsType;

struct RowSoftmax {
  float max = 0;
  float log_sum = 0;
};

// Element i of a row as fp32.
float load(const void* row, LogitsType type, int64_t i);
// Writes v to element i (bf16: rounded to nearest even).
void store(void* row, LogitsType type, int64_t i, float v);

// max and log_sum of a row of n logits, and, when entropy != nullptr, its
// entropy -sum p log p (-inf logits have p = 0 and add nothing).
RowSoftmax softmax_row(const void* x, LogitsType type, int64_t n, float* entropy);

// out_v = scale * p_v for every v of the row, written in `type`: the dense
// part of a softmax gradient (d log p_k / d x_v = [v = k] - p_v).
void scaled_softmax_row(const void* x, LogitsType type, int64_t n, RowSoftmax sm, float scale,
                        void* out);

// The ids of the k largest logits of a row, in descending order of value (ties
// in any order; NaN is never preferred to a number). 1 <= k <= n.
void topk_row(const void* x, LogitsType type, int64_t n, int64_t k, int64_t* ids);

// Full-vocabulary KL between a student row s and a teacher row t, both of n
// logits of one type: forward sum_v p_t (log p_t - log p_s), reverse sum_v p_s (log p_s -
// log p_t). A term whose weighting probability is 0 is 0; one with weight > 0
// and the other log-prob -inf makes the row +inf (the divergence is infinite).
struct KlRow {
  RowSoftmax s, t;
  float kl = 0;
};
KlRow kl_row(const void* s, const void* t, LogitsType type, int64_t n, bool forward);

// g * d KL / d s_v written to out (in `type`), from kl_row's result:
//   forward: g (p_s,v - p_t,v);   reverse: g p_s,v ((log p_s,v - log p_t,v) - kl).
void kl_row_grad(const void* s, const void* t, LogitsType type, int64_t n, bool forward,
                 const KlRow& row, float g, void* out);

}  // namespace opd::ops::cpu
