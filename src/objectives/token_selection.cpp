#include "opd/objectives/token_selection.h"

#include "opd/ops/trust_mask.h"

#include <cmath>

namespace opd::objectives {

at::Tensor tokens_from(const ObjectiveInputs& in, TokenSource source) {
  return (in.source == static_cast<int8_t>(source)).to(at::kFloat) * in.loss_mask.to(at::kFloat);
}

at::Tensor top_fraction(const at::Tensor& score, const at::Tensor& candidates, double rho) {
  TORCH_CHECK(rho > 0 && rho <= 1, "top_fraction: rho must be in (0, 1], got ", rho);
  TORCH_CHECK(score.sizes() == candidates.sizes(), "top_fraction: score ", score.sizes(),
              " and candidates ", candidates.sizes(), " differ");
  auto is_candidate = candidates > 0;
  const int64_t n = is_candidate.sum().item<int64_t>();
  if (n == 0) return at::zeros_like(candidates);
  const int64_t keep = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(rho * double(n) - 1e-9)));
  auto scores = score.detach().to(at::kFloat).masked_select(is_candidate);
  // The keep-th largest candidate score is the cut; ties at it are kept.
  const float cut = std::get<0>(scores.topk(keep)).min().item<float>();
  return (is_candidate & (score.detach().to(at::kFloat) >= cut)).to(at::kFloat);
}

at::Tensor trust_region(const at::Tensor& log_ratio, const at::Tensor& candidates,
                        const ObjectiveInputs& in) {
  TORCH_CHECK(in.token_index.defined(), "trust_region: ObjectiveInputs.token_index is not set");
  auto trusted = ops::trust_mask(log_ratio.detach().to(at::kFloat), in.token_index, in.seed, in.step);
  return trusted.to(at::kFloat) * candidates;
}

}  // namespace opd::objectives
