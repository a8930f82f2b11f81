#include "objectives/objective_reference.h"

#include "opd/objectives/registry.h"
#include "opd/ops/trust_mask.h"
#include "support/test_support.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>

namespace opd::objtest {
namespace {

// token_weight = loss_mask / N (token mean) or loss_mask / (n_row * rows) (sequence mean).
at::Tensor weights_for(const at::Tensor& loss_mask, bool sequence) {
  if (!sequence) return loss_mask / std::max(1.0, loss_mask.sum().item<double>());
  auto per_row = loss_mask.sum(1, /*keepdim=*/true);
  const double rows = (per_row > 0).sum().item<double>();
  return loss_mask / per_row.clamp_min(1.0) / std::max(1.0, rows);
}

}  // namespace

RandomCase make_case(at::ScalarType dtype, uint64_t seed, const CaseOptions& o) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const int64_t B = o.B, L = o.L, V = o.V;
  RandomCase c;
  auto z = at::randn({B, L, V}, gen, at::kFloat) * o.student_scale;
  c.logits = z.to(dtype);
  // Sampled from the student, as on-policy tokens are.
  auto probs = at::softmax(c.logits.to(at::kFloat), -1).reshape({B * L, V});
  c.in.targets = at::multinomial(probs, 1, /*replacement=*/true, gen).reshape({B, L});

  // Sources: 0 with p .15, 1 with .2, 2 with .45, 3 with .2; 15% of the
  // remaining tokens are padding (loss_mask 0).
  auto u = at::rand({B, L}, gen, at::kDouble);
  auto pad = at::rand({B, L}, gen, at::kDouble);
  auto source = at::zeros({B, L}, at::kChar);
  auto loss_mask = at::zeros({B, L}, at::kFloat);
  auto ua = u.accessor<double, 2>();
  auto pa = pad.accessor<double, 2>();
  auto sa = source.accessor<int8_t, 2>();
  auto ma = loss_mask.accessor<float, 2>();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t t = 0; t < L; ++t) {
      const double x = ua[b][t];
      sa[b][t] = x < 0.15 ? 0 : x < 0.35 ? 1 : x < 0.8 ? 2 : 3;
      ma[b][t] = (sa[b][t] != 0 && pa[b][t] > 0.15) ? 1.0f : 0.0f;
    }
  }
  // Every kind of token at least once: prompt, each source, a padded student
  // token, and right padding at the end of the last row.
  sa[0][0] = 0, ma[0][0] = 0;
  sa[0][1] = 1, ma[0][1] = 1;
  sa[0][2] = 2, ma[0][2] = 1;
  sa[0][3] = 3, ma[0][3] = 1;
  sa[1][0] = 2, ma[1][0] = 0;
  sa[B - 1][L - 1] = 0, ma[B - 1][L - 1] = 0;
  c.in.source = source;
  c.in.loss_mask = loss_mask;
  c.sequence_weights = o.sequence_weights;
  c.in.token_weight = weights_for(loss_mask, o.sequence_weights);
  c.in.token_index = at::arange(B * L, at::kLong).view({B, L});
  c.in.step = o.step;
  c.in.seed = o.trust_seed;

  // The teacher: its own logits (per-position temperature so its entropy
  // varies), or the student's plus noise.
  auto temperature = (at::rand({B, L, 1}, gen, at::kFloat) * 2 - 1).exp();
  if (o.teacher_noise > 0) {
    c.teacher_logits = c.logits.to(at::kFloat) + at::randn({B, L, V}, gen, at::kFloat) * o.teacher_noise;
  } else {
    c.teacher_logits = at::randn({B, L, V}, gen, at::kFloat) * o.teacher_scale * temperature;
  }
  auto teacher_logp = at::log_softmax(c.teacher_logits, -1);
  c.in.teacher_logprobs = teacher_logp.gather(-1, c.in.targets.unsqueeze(-1)).squeeze(-1);
  auto top = teacher_logp.topk(o.top_k, -1);
  c.in.teacher_topk_logp = std::get<0>(top).contiguous();
  c.in.teacher_topk_ids = std::get<1>(top).contiguous();
  c.in.teacher_entropy = -(teacher_logp.exp() * teacher_logp).sum(-1);
  c.in.teacher_logits = c.teacher_logits;

  auto reference_logits = at::randn({B, L, V}, gen, at::kFloat) * 2;
  c.in.reference_logprobs =
      at::log_softmax(reference_logits, -1).gather(-1, c.in.targets.unsqueeze(-1)).squeeze(-1);
  return c;
}

RandomCase slice_rows(const RandomCase& c, int64_t begin, int64_t end) {
  auto rows = [&](const at::Tensor& t) { return t.defined() ? t.slice(0, begin, end) : t; };
  RandomCase s = c;
  s.logits = rows(c.logits);
  s.teacher_logits = rows(c.teacher_logits);
  s.in.targets = rows(c.in.targets);
  s.in.source = rows(c.in.source);
  s.in.loss_mask = rows(c.in.loss_mask);
  s.in.token_weight = rows(c.in.token_weight);
  s.in.token_index = rows(c.in.token_index);
  s.in.teacher_logprobs = rows(c.in.teacher_logprobs);
  s.in.teacher_topk_ids = rows(c.in.teacher_topk_ids);
  s.in.teacher_topk_logp = rows(c.in.teacher_topk_logp);
  s.in.teacher_entropy = rows(c.in.teacher_entropy);
  s.in.teacher_logits = rows(c.in.teacher_logits);
  s.in.reference_logprobs = rows(c.in.reference_logprobs);
  return s;
}

at::Tensor source_tokens(const RandomCase& c, int source) {
  return (c.in.source == source) & (c.in.loss_mask > 0);
}

void avoid_integral_cut(RandomCase& c, double rho) {
  for (;;) {
    auto student = source_tokens(c, 2).reshape({-1});
    const double n = student.sum().item<double>();
    const double x = rho * n;
    if (n <= 1 || std::abs(x - std::round(x)) > 1e-6) break;
    auto positions = student.nonzero();
    const int64_t last = positions[positions.size(0) - 1][0].item<int64_t>();
    c.in.loss_mask = c.in.loss_mask.clone();
    c.in.loss_mask.view({-1})[last].fill_(0.0);
    c.in.token_weight = weights_for(c.in.loss_mask, c.sequence_weights);
  }
}

namespace {

RunResult run_inputs(const ObjectiveConfig& config, ObjectiveInputs in, const at::Tensor& leaf) {
  auto objective = make_objective(config);
  auto out = objective->compute(in);
  EXPECT_EQ(out.loss.dim(), 0) << objective->name() << ": the loss is not a scalar";
  RunResult r;
  r.loss = out.loss.item<double>();
  if (out.loss.requires_grad()) out.loss.backward();
  r.grad = leaf.grad().defined() ? leaf.grad().to(at::kDouble) : at::zeros(leaf.sizes(), at::kDouble);
  r.metrics = out.metrics;
  return r;
}

}  // namespace

RunResult run(const ObjectiveConfig& config, const RandomCase& c) {
  auto leaf = c.logits.detach().clone().set_requires_grad(true);
  ObjectiveInputs in = c.in;
  in.student_logits = leaf;
  return run_inputs(config, in, leaf);
}

RunResult run_chunked(const ObjectiveConfig& config, const RandomCase& c, int64_t chunk_rows) {
  auto leaf = c.logits.detach().clone().set_requires_grad(true);
  ObjectiveInputs in = c.in;
  in.student_hidden = leaf;
  in.student_head = at::eye(c.logits.size(-1), c.logits.options());
  in.logits_chunk_rows = chunk_rows;
  return run_inputs(config, in, leaf);
}

Ref make_ref(const RandomCase& c) {
  Ref r;
  r.c = &c;
  r.z = c.logits.detach().to(at::kDouble).set_requires_grad(true);
  r.logp = at::log_softmax(r.z, -1);
  r.s = r.logp.gather(-1, c.in.targets.unsqueeze(-1)).squeeze(-1);
  r.tau = c.in.teacher_logprobs.to(at::kDouble);
  r.r = c.in.reference_logprobs.to(at::kDouble);
  r.teacher_logp = at::log_softmax(c.teacher_logits.to(at::kDouble), -1);
  r.topk_ids = c.in.teacher_topk_ids;
  r.topk_logp = c.in.teacher_topk_logp.to(at::kDouble);
  r.teacher_entropy = c.in.teacher_entropy.to(at::kDouble);
  auto lp = r.logp.detach();
  r.student_entropy = -(lp.exp() * lp).sum(-1);
  r.weight = c.in.token_weight.to(at::kDouble);
  r.student = source_tokens(c, 2).to(at::kDouble);
  r.prefix = source_tokens(c, 1).to(at::kDouble);
  r.refined = source_tokens(c, 3).to(at::kDouble);
  return r;
}

RefResult reference(const RandomCase& c, const RefFn& fn) {
  Ref r = make_ref(c);
  Term term = fn(r);
  auto loss = (term.loss * r.weight).sum();
  RefResult out;
  out.loss = loss.item<double>();
  if (loss.requires_grad()) loss.backward();
  out.grad = r.z.grad().defined() ? r.z.grad() : at::zeros(r.z.sizes(), at::kDouble);
  out.trained = term.trained.to(at::kBool);
  return out;
}

at::Tensor pg(const Ref& r, const at::Tensor& advantage) { return -advantage.detach() * r.s; }

at::Tensor opd_advantage(const Ref& r, double lambda) {
  auto s = r.s.detach();
  return (r.tau - s) + (lambda - 1.0) * (r.tau - r.r);
}

// p * (log p - log q) with 0 log 0 = 0 (teacher entries of probability 0).
static at::Tensor xlogx_terms(const at::Tensor& log_p, const at::Tensor& log_q) {
  auto p = log_p.exp();
  return at::where(p > 0, p * (log_p - log_q), at::zeros({}, at::kDouble));
}

at::Tensor topk_fkl(const Ref& r, bool renormalize) {
  auto student = r.logp.gather(-1, r.topk_ids);
  if (!renormalize) return xlogx_terms(r.topk_logp, student).sum(-1);
  auto q_t = r.topk_logp - r.topk_logp.logsumexp(-1, true);
  auto q_s = student - student.logsumexp(-1, true);
  return xlogx_terms(q_t, q_s).sum(-1);
}

at::Tensor full_kl(const Ref& r, bool forward, int64_t support_k) {
  at::Tensor lt = r.teacher_logp, ls = r.logp;
  if (support_k > 0) {
    auto ids = std::get<1>(r.teacher_logp.topk(support_k, -1));
    lt = lt.gather(-1, ids);
    ls = ls.gather(-1, ids);
    lt = lt - lt.logsumexp(-1, true);
    ls = ls - ls.logsumexp(-1, true);
  }
  return forward ? xlogx_terms(lt, ls).sum(-1) : xlogx_terms(ls, lt).sum(-1);
}

at::Tensor jsd(const Ref& r, double beta) {
  auto p_t = r.topk_logp.exp();
  auto m = beta * p_t + (1 - beta) * r.logp.gather(-1, r.topk_ids).exp();
  auto divergence = beta * xlogx_terms(r.topk_logp, m.log()).sum(-1);
  auto s = r.s.detach();
  auto log_m_y = (beta * r.tau.exp() + (1 - beta) * s.exp()).log();
  auto advantage = -(1 - beta) * (s - log_m_y);
  return divergence + pg(r, advantage);
}

at::Tensor top_entropy(const Ref& r, const at::Tensor& candidates, double rho) {
  auto cand = candidates.to(at::kBool).reshape({-1});
  const int64_t n = cand.sum().item<int64_t>();
  const int64_t keep = static_cast<int64_t>(std::ceil(rho * static_cast<double>(n)));
  auto score = at::where(cand, r.student_entropy.reshape({-1}),
                         at::full({}, -std::numeric_limits<double>::infinity(), at::kDouble));
  auto chosen = at::zeros({cand.size(0)}, at::kBool);
  if (keep > 0) chosen.index_fill_(0, std::get<1>(score.topk(keep)), true);
  return (chosen & cand).view(r.s.sizes());
}

at::Tensor trust(const Ref& r) {
  auto log_ratio = (r.tau - r.s.detach()).to(at::kFloat);
  return ops::trust_mask(log_ratio, r.c->in.token_index, r.c->in.seed, r.c->in.step);
}

double loss_tol(at::ScalarType dtype) { return dtype == at::kBFloat16 ? 1e-2 : 1e-5; }
double grad_tol(at::ScalarType dtype) { return dtype == at::kBFloat16 ? 1e-2 : 1e-5; }
double same_tol(at::ScalarType dtype) { return dtype == at::kBFloat16 ? 1e-2 : 1e-5; }

double max_abs_grad(const at::Tensor& grad, const at::Tensor& mask) {
  auto m = mask.to(at::kBool).unsqueeze(-1).expand_as(grad);
  auto picked = grad.masked_select(m);
  return picked.numel() == 0 ? 0.0 : picked.abs().max().item<double>();
}

double masked_mean(const at::Tensor& values, const at::Tensor& mask) {
  auto m = mask.to(at::kDouble);
  return (values.to(at::kDouble) * m).sum().item<double>() / m.sum().item<double>();
}

double count(const at::Tensor& mask) { return mask.to(at::kDouble).sum().item<double>(); }

void expect_matches_reference(const ObjectiveConfig& config, const RandomCase& c, const RefFn& fn,
                              at::ScalarType dtype, const std::string& what) {
  SCOPED_TRACE(what);
  RunResult got = run(config, c);
  RefResult want = reference(c, fn);
  ASSERT_GT(count(want.trained), 0) << "the case trains no token";
  // The scale of the summed terms, so a loss that cancels to ~0 is not
  // compared at a tolerance below its rounding.
  const double scale = std::max(std::abs(want.loss), 1e-3);
  EXPECT_NEAR(got.loss, want.loss, loss_tol(dtype) * scale) << "loss";
  EXPECT_LT(opd::testing::rel_err(got.grad, want.grad), grad_tol(dtype)) << "gradient";
  // Per source too, so a small term (e.g. the prefix term) cannot hide in the norm.
  for (int source : {1, 2, 3}) {
    auto m = source_tokens(c, source).unsqueeze(-1).expand_as(want.grad);
    auto w = want.grad.masked_select(m);
    if (w.numel() == 0 || w.abs().max().item<double>() == 0) continue;
    EXPECT_LT(opd::testing::rel_err(got.grad.masked_select(m), w), grad_tol(dtype))
        << "gradient on source-" << source << " tokens";
  }
  EXPECT_EQ(max_abs_grad(got.grad, ~want.trained), 0.0) << "gradient on tokens that do not train";
}

std::string dtype_name(const ::testing::TestParamInfo<at::ScalarType>& info) {
  return info.param == at::kBFloat16 ? "bf16" : "fp32";
}

ObjectiveConfig config_of(ObjectiveKind kind, const std::function<void(ObjectiveConfig&)>& edit) {
  ObjectiveConfig config = default_objective_config(kind);
  if (edit) edit(config);
  return config;
}

}  // namespace opd::objtest
