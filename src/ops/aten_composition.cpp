#include "opd/ops/aten_composition.h"

#include <ATen/core/grad_mode.h>

#include <limits>

namespace opd::ops::aten_composition {
namespace {

// sum_v p (log p - log q) per row; a term with p = 0 is 0 in value and gradient.
at::Tensor kl_terms(const at::Tensor& logp, const at::Tensor& logq) {
  auto p = logp.exp();
  auto live = p > 0;
  auto zero = at::zeros_like(logp);
  return (p * (at::where(live, logp, zero) - at::where(live, logq, zero))).sum(-1);
}

}  // namespace

at::Tensor gather_logprobs(const at::Tensor& logits, const at::Tensor& ids) {
  return at::log_softmax(logits.to(at::kFloat), -1).gather(-1, ids);
}

at::Tensor softmax_entropy(const at::Tensor& logits) {
  auto logp = at::log_softmax(logits.detach().to(at::kFloat), -1);
  auto p = logp.exp();
  return -at::where(p > 0, p * logp, at::zeros_like(p)).sum(-1);
}

at::Tensor topk_forward_kl(const at::Tensor& student_logits, const at::Tensor& topk_ids,
                           const at::Tensor& topk_logp, bool renormalize) {
  auto logits = student_logits.to(at::kFloat);
  auto logp_t = topk_logp.detach().to(at::kFloat);
  auto logp_s = renormalize ? at::log_softmax(logits.gather(-1, topk_ids), -1)
                            : at::log_softmax(logits, -1).gather(-1, topk_ids);
  if (renormalize) logp_t = at::log_softmax(logp_t, -1);
  return kl_terms(logp_t, logp_s);
}

at::Tensor full_vocab_kl(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                         KlDirection direction, int64_t support_k) {
  auto s = student_logits.to(at::kFloat);
  auto t = teacher_logits.detach().to(at::kFloat);
  if (support_k > 0) {
    auto support = std::get<1>(t.topk(support_k, -1, /*largest=*/true, /*sorted=*/false));
    s = s.gather(-1, support);
    t = t.gather(-1, support);
  }
  auto logp_s = at::log_softmax(s, -1);
  auto logp_t = at::log_softmax(t, -1);
  return direction == KlDirection::kForward ? kl_terms(logp_t, logp_s) : kl_terms(logp_s, logp_t);
}

TeacherTopk teacher_topk(const at::Tensor& logits, int64_t k) {
  at::NoGradGuard no_grad;
  auto logp = at::log_softmax(logits.detach().to(at::kFloat), -1);
  auto top = logp.topk(k, -1, /*largest=*/true, /*sorted=*/true);
  auto p = logp.exp();
  auto entropy = -at::where(p > 0, p * logp, at::zeros_like(p)).sum(-1);
  return {std::get<1>(top), std::get<0>(top), entropy};
}

SampledTokens sample_tokens(const at::Tensor& logits, const SamplingParams& p, const at::Tensor& uniforms) {
  check_sampling_params(p);
  auto x = logits.to(at::kFloat);
  auto argmax = x.argmax(1);
  if (p.temperature == 0) return {argmax, at::zeros(argmax.sizes(), x.options())};
  auto e = ((x - std::get<0>(x.max(1, true))) / p.temperature).exp();
  const int64_t V = x.size(1);
  auto t = at::zeros({x.size(0), 1}, e.options());
  if (p.top_k > 0 && p.top_k < V) t = at::maximum(t, std::get<0>(e.topk(p.top_k, 1)).narrow(1, p.top_k - 1, 1));
  if (p.top_p < 1) {
    auto masked = [&](const at::Tensor& threshold) { return (e * (e >= threshold)).sum(1, true); };
    auto target = masked(t) * p.top_p;
    // Largest lo with mass(e >= lo) >= target; hi always fails.
    auto lo = t.to(at::kDouble), hi = at::full_like(lo, 1.5);
    for (int i = 0; i < 64; ++i) {
      auto mid = (lo + hi) / 2;
      auto ok = masked(mid.to(at::kFloat)) >= target;
      lo = at::where(ok, mid, lo);
      hi = at::where(ok, hi, mid);
    }
    // Snap to the smallest kept value, so the kept set is exactly {e >= it}.
    auto lo_f = lo.to(at::kFloat);
    auto snapped = at::where(e >= lo_f, e, at::full_like(e, std::numeric_limits<float>::infinity()));
    t = at::maximum(t, std::get<0>(snapped.min(1, true)));
  }
  if (p.min_p > 0) t = at::maximum(t, at::full_like(t, p.min_p));
  auto kept = e * (e >= t);
  auto mass = kept.to(at::kDouble).sum(1, true);
  auto cumulative = kept.to(at::kDouble).cumsum(1);
  auto index = (cumulative <= uniforms.unsqueeze(1).to(cumulative.device()) * mass).sum(1).clamp_max(V - 1);
  // Rounding past the last kept token: take the last kept one.
  auto last_kept = (at::arange(V, index.options()).unsqueeze(0) * (kept > 0)).amax(1);
  index = at::where(kept.gather(1, index.unsqueeze(1)).squeeze(1) > 0, index, last_kept);
  auto logprob = (kept.gather(1, index.unsqueeze(1)).squeeze(1).to(at::kDouble) / mass.squeeze(1)).log();
  return {index, logprob.to(at::kFloat)};
}


}  // namespace opd::ops::aten_composition
