#include "opd/ops/topk_forward_kl.h"

#include "row_chunks.h"

#include <vector>

namespace opd::ops {

at::Tensor topk_forward_kl(const at::Tensor& student_logits, const at::Tensor& topk_ids,
                           const at::Tensor& topk_logp, bool renormalize, int64_t chunk_rows) {
  const int64_t d = student_logits.dim();
  TORCH_CHECK(d >= 1 && topk_ids.dim() == d && topk_logp.sizes() == topk_ids.sizes() &&
                  student_logits.sizes().slice(0, d - 1) == topk_ids.sizes().slice(0, d - 1) &&
                  topk_ids.size(-1) >= 1 && topk_ids.size(-1) <= student_logits.size(-1) &&
                  topk_ids.scalar_type() == at::kLong &&
                  at::isFloatingType(student_logits.scalar_type()) &&
                  at::isFloatingType(topk_logp.scalar_type()) && chunk_rows > 0,
              "topk_forward_kl: expected float student_logits [..., V], int64 topk_ids and float "
              "topk_logp [..., K] with 1 <= K <= V and chunk_rows > 0, got student_logits ",
              student_logits.sizes(), " ", student_logits.scalar_type(), ", topk_ids ",
              topk_ids.sizes(), " ", topk_ids.scalar_type(), ", topk_logp ", topk_logp.sizes(),
              " ", topk_logp.scalar_type(), ", chunk_rows ", chunk_rows);
  const int64_t V = student_logits.size(-1);
  const int64_t K = topk_ids.size(-1);
  if (topk_ids.numel() > 0) {
    const int64_t lo = topk_ids.min().item<int64_t>();
    const int64_t hi = topk_ids.max().item<int64_t>();
    TORCH_CHECK(lo >= 0 && hi < V, "topk_forward_kl: topk_ids ", topk_ids.sizes(),
                " must lie in [0, ", V, "), got values in [", lo, ", ", hi, "]");
  }
  auto rows = student_logits.reshape({-1, V});
  auto ids = topk_ids.reshape({-1, K});
  auto teacher = topk_logp.detach().reshape({-1, K});
  const int64_t n = rows.size(0);

  auto out = concat_row_chunks(n, chunk_rows, [&](int64_t b, int64_t e) {
    auto logits = rows.slice(0, b, e).to(at::kFloat);
    auto id = ids.slice(0, b, e);
    auto logp_t = teacher.slice(0, b, e).to(at::kFloat);
    // The full log-softmax, or the log-softmax of the K picked logits (renormalised).
    // log_softmax rather than x - logsumexp(x): it keeps the low bits of large logits.
    auto logp_s = renormalize ? at::log_softmax(logits.gather(1, id), 1)
                              : at::log_softmax(logits, 1).gather(1, id);  // [n, K]
    if (renormalize) logp_t = at::log_softmax(logp_t, 1);
    auto p_t = logp_t.exp();
    // p_T = 0 terms are 0 (not 0 * inf = NaN), also in the backward pass.
    auto live = p_t > 0;
    auto zero = at::zeros_like(p_t);
    auto term = p_t * (at::where(live, logp_t, zero) - at::where(live, logp_s, zero));
    return term.sum(1);
  });
  auto lead = topk_ids.sizes().vec();
  lead.pop_back();
  return out.view(lead);
}

at::Tensor topk_mass(const at::Tensor& topk_logp) {
  TORCH_CHECK(topk_logp.dim() >= 1 && at::isFloatingType(topk_logp.scalar_type()),
              "topk_mass: expected float topk_logp [..., K], got ", topk_logp.sizes(), " ",
              topk_logp.scalar_type());
  return topk_logp.detach().to(at::kFloat).exp().sum(-1);
}

}  // namespace opd::ops
