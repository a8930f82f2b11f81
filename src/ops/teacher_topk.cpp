#include "opd/ops/teacher_topk.h"

#include <vector>

namespace opd::ops {

TeacherTopk teacher_topk(const at::Tensor& logits, int64_t k, int64_t chunk_rows) {
  TORCH_CHECK(logits.dim() >= 1 && at::isFloatingType(logits.scalar_type()) &&
                  k >= 1 && k <= logits.size(-1) && chunk_rows > 0,
              "teacher_topk: expected float logits [..., V] with 1 <= k <= V and chunk_rows > 0, "
              "got logits ", logits.sizes(), " ", logits.scalar_type(), ", k ", k,
              ", chunk_rows ", chunk_rows);
  at::NoGradGuard no_grad;
  const int64_t V = logits.size(-1);
  auto rows = logits.detach().reshape({-1, V});
  const int64_t n = rows.size(0);

  std::vector<at::Tensor> ids, logp, entropy;
  for (int64_t b = 0; b == 0 || b < n; b += chunk_rows) {
    // log_softmax subtracts the row max before anything else: logits - logsumexp
    // would lose the low bits of every log-prob when the logits are large (1e4).
    auto row_logp = at::log_softmax(rows.slice(0, b, std::min(n, b + chunk_rows)).to(at::kFloat), 1);
    auto top = row_logp.topk(k, 1, /*largest=*/true, /*sorted=*/true);
    ids.push_back(std::get<1>(top));
    logp.push_back(std::get<0>(top));
    // H = -sum p log p; tokens with p = 0 (logit -inf) add nothing, not NaN.
    auto p = row_logp.exp();
    entropy.push_back(-at::where(p > 0, p * row_logp, at::zeros_like(p)).sum(1));
  }

  auto lead = logits.sizes().vec();
  lead.pop_back();
  auto with_k = lead;
  with_k.push_back(k);
  return TeacherTopk{at::cat(ids).view(with_k), at::cat(logp).view(with_k),
                     at::cat(entropy).view(lead)};
}

}  // namespace opd::ops
