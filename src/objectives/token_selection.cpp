#include "opd/objectives/token_selection.h"

#include "opd/ops/trust_mask.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

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

at::Tensor top_entropy_fraction(const ObjectiveInputs& in, const at::Tensor& entropy, const at::Tensor& candidates,
                                double rho) {
  for (const auto& [r, cut] : in.entropy_cuts) {
    if (r != rho) continue;
    TORCH_CHECK(in.selection_entropy.defined() && in.selection_entropy.sizes() == candidates.sizes(),
                "entropy selection: the step's selection_entropy is missing or of another shape than the tokens");
    return ((candidates > 0) & (in.selection_entropy.to(candidates.device(), at::kFloat) >= cut)).to(at::kFloat);
  }
  return top_fraction(entropy, candidates, rho);
}

std::vector<float> step_top_fraction_cuts(const at::Tensor& scores, const std::vector<double>& rhos,
                                          const std::function<std::vector<double>(std::vector<double>)>& sum_over_ranks) {
  TORCH_CHECK(scores.dim() == 1 && scores.scalar_type() == at::kFloat, "step_top_fraction_cuts: scores must be 1-D float");
  TORCH_CHECK(scores.numel() == 0 || scores.min().item<float>() >= 0, "step_top_fraction_cuts: scores must be >= 0");
  const auto bits = scores.contiguous().view(at::kInt);  // non-negative floats order as their bit patterns
  const auto count_at_least = [&](const std::vector<int32_t>& at) {
    std::vector<double> counts;
    for (int32_t x : at) counts.push_back(double((bits >= x).sum().item<int64_t>()));
    return sum_over_ranks(std::move(counts));
  };
  const double n = sum_over_ranks({double(scores.numel())}).at(0);
  std::vector<double> keep;
  for (double rho : rhos) {
    TORCH_CHECK(rho > 0 && rho <= 1, "step_top_fraction_cuts: rho must be in (0, 1], got ", rho);
    keep.push_back(std::max(1.0, std::ceil(rho * n - 1e-9)));
  }
  // The largest x with count(score >= x) >= keep is the keep-th largest score.
  // Invariant: count(>= lo) >= keep, count(>= hi) < keep.
  constexpr int32_t kInfBits = 0x7f800000;
  std::vector<int32_t> lo(rhos.size(), 0), hi(rhos.size(), kInfBits);
  for (int iteration = 0; iteration < 32; ++iteration) {
    std::vector<int32_t> mid(rhos.size());
    for (size_t i = 0; i < rhos.size(); ++i) mid[i] = lo[i] + (hi[i] - lo[i]) / 2;
    const auto counts = count_at_least(mid);  // every rank runs the same iterations: same collectives
    for (size_t i = 0; i < rhos.size(); ++i) (counts[i] >= keep[i] ? lo[i] : hi[i]) = mid[i];
  }
  std::vector<float> cuts;
  for (size_t i = 0; i < rhos.size(); ++i) {
    float cut;
    std::memcpy(&cut, &lo[i], sizeof cut);
    cuts.push_back(n == 0 ? std::numeric_limits<float>::infinity() : cut);
  }
  return cuts;
}

at::Tensor trust_region(const at::Tensor& log_ratio, const at::Tensor& candidates,
                        const ObjectiveInputs& in) {
  TORCH_CHECK(in.token_index.defined(), "trust_region: ObjectiveInputs.token_index is not set");
  auto trusted = ops::trust_mask(log_ratio.detach().to(at::kFloat), in.token_index, in.seed, in.step);
  return trusted.to(at::kFloat) * candidates;
}

}  // namespace opd::objectives
