#include "opd/ops/full_vocab_kl.h"
#include "opd/ops/teacher_topk.h"
#include "opd/ops/topk_forward_kl.h"
#include "ops/tolerances.h"
#include "support/test_support.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <vector>

namespace opd::ops {
namespace {

using opd::testing::close;
using opd::testing::rel_err;

constexpr double kInf = std::numeric_limits<double>::infinity();

// Gradient tolerance: the op's gradient comes back in the logits' dtype.
struct TopkCase {
  at::Tensor student;  // [..., V] leaf of the tested dtype
  at::Tensor ids;      // [..., K] the teacher's K most probable tokens
  at::Tensor logp;     // [..., K] float, their full-softmax log-probs
  at::Tensor weight;   // [...] double, random per-row loss weights
};

// Teacher top-k chosen by the test itself (a full double sort), not by teacher_topk.
TopkCase random_topk_case(std::vector<int64_t> lead, int64_t V, int64_t K, at::ScalarType dtype,
                 uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto sizes = lead;
  sizes.push_back(V);
  TopkCase c;
  c.student = (at::randn(sizes, gen, at::kFloat) * 2).to(dtype).set_requires_grad(true);
  auto teacher = at::log_softmax(at::randn(sizes, gen, at::kDouble) * 3, -1);
  auto sorted = teacher.sort(-1, /*descending=*/true);
  c.ids = std::get<1>(sorted).slice(-1, 0, K).contiguous();
  c.logp = std::get<0>(sorted).slice(-1, 0, K).to(at::kFloat);
  c.weight = at::rand(lead, gen, at::kDouble);
  return c;
}

// Dense double formula: the teacher spread over the vocab (0 off the support),
// probabilities divided by their support mass when renormalising.
at::Tensor reference_kl(const at::Tensor& student_double, const TopkCase& c, bool renormalize) {
  auto on = at::zeros_like(student_double, at::kBool).scatter(-1, c.ids, true);
  auto p_t = at::zeros_like(student_double).scatter(-1, c.ids, c.logp.to(at::kDouble).exp());
  auto p_s = at::softmax(student_double, -1);
  if (renormalize) {
    p_t = p_t / p_t.sum(-1, true);
    p_s = p_s * on;
    p_s = p_s / p_s.sum(-1, true);
  }
  // Off the support p_T = 0: take log(1 / 1) there, so that neither the value
  // nor the gradient sees 0 * log(0 / 0).
  auto one = at::ones_like(p_t);
  return (p_t * (at::where(on, p_t, one) / at::where(on, p_s, one)).log()).sum(-1);
}

std::pair<at::Tensor, at::Tensor> reference(const TopkCase& c, bool renormalize) {
  auto x = c.student.detach().to(at::kDouble).set_requires_grad(true);
  auto kl = reference_kl(x, c, renormalize);
  auto grad = torch::autograd::grad({(kl * c.weight).sum()}, {x})[0];
  return {kl.detach(), grad};
}

std::pair<at::Tensor, at::Tensor> run(const TopkCase& c, bool renormalize) {
  auto kl = topk_forward_kl(c.student, c.ids, c.logp, renormalize);
  auto grad = torch::autograd::grad({(kl * c.weight.to(at::kFloat)).sum()}, {c.student})[0];
  return {kl.detach(), grad};
}

class TopkForwardKlTest : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(TopkForwardKlTest, MatchesDenseDoubleReference) {
  struct Shape {
    std::vector<int64_t> lead;
    int64_t V;
  };
  for (const auto& shape : {Shape{{13}, 37}, Shape{{3, 5}, 101}}) {
    for (int64_t K : {int64_t{1}, int64_t{7}, shape.V}) {
      for (bool renormalize : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "V " << shape.V << " K " << K << " lead "
                                          << shape.lead.size() << "d renormalize " << renormalize);
        auto c = random_topk_case(shape.lead, shape.V, K, GetParam(), 100 + K);
        auto [kl, grad] = run(c, renormalize);
        auto [ref_kl, ref_grad] = reference(c, renormalize);
        EXPECT_EQ(kl.scalar_type(), at::kFloat);
        EXPECT_EQ(kl.sizes(), at::IntArrayRef(shape.lead));
        // Same input values on both sides: only fp32 arithmetic separates them.
        EXPECT_TRUE(close(kl, ref_kl, 1e-5, 1e-5));
        if (renormalize && K == 1) {
          EXPECT_EQ(grad.abs().max().item<double>(), 0.0);  // one token: q_T = q_S = 1
        } else {
          EXPECT_LT(rel_err(grad, ref_grad), grad_tol(GetParam()));
        }
      }
    }
  }
}

// The top-k KL never saw the support's mass: unrenormalised, every logit of the
// row (not only the K) gets gradient; renormalised, only the K do.
TEST_P(TopkForwardKlTest, GradientSupportDependsOnRenormalisation) {
  auto c = random_topk_case({6}, 37, 5, GetParam(), 9);
  auto on = at::zeros({6, 37}, at::kBool).scatter(-1, c.ids, true);
  auto [kl, grad] = run(c, /*renormalize=*/false);
  EXPECT_TRUE((grad.masked_select(~on) != 0).all().item<bool>());
  auto [kl_r, grad_r] = run(c, /*renormalize=*/true);
  EXPECT_EQ(grad_r.masked_select(~on).abs().max().item<double>(), 0.0);
}

TEST_P(TopkForwardKlTest, KEqualsVMatchesFullVocabForwardKl) {
  const int64_t V = 37;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  auto student = (at::randn({3, 4, V}, gen, at::kFloat) * 2).to(GetParam()).set_requires_grad(true);
  auto teacher = (at::randn({3, 4, V}, gen, at::kFloat) * 3).to(GetParam());
  auto weight = at::rand({3, 4}, gen);
  auto full = full_vocab_kl(student, teacher, KlDirection::kForward);
  auto full_grad = torch::autograd::grad({(full * weight).sum()}, {student})[0];
  // Both ways of naming "every token": teacher_topk with k = V (sorted) and arange.
  auto top = teacher_topk(teacher, V);
  auto arange = at::arange(V).expand({3, 4, V}).contiguous();
  auto logp = at::log_softmax(teacher.to(at::kFloat), -1);
  for (const auto& [ids, lp] : {std::pair{top.ids, top.logp}, std::pair{arange, logp}}) {
    for (bool renormalize : {false, true}) {
      auto kl = topk_forward_kl(student, ids, lp, renormalize);
      auto grad = torch::autograd::grad({(kl * weight).sum()}, {student})[0];
      EXPECT_TRUE(close(kl, full, 1e-5, 1e-6)) << "renormalize " << renormalize;
      EXPECT_LT(rel_err(grad, full_grad), grad_tol(GetParam())) << "renormalize " << renormalize;
    }
  }
}

TEST_P(TopkForwardKlTest, RenormalisedEqualsUnrenormalisedWhenKEqualsV) {
  auto c = random_topk_case({2, 9}, 101, 101, GetParam(), 21);
  auto [kl, grad] = run(c, false);
  auto [kl_r, grad_r] = run(c, true);
  EXPECT_TRUE(close(kl_r, kl, 1e-5, 1e-6));
  EXPECT_LT(rel_err(grad_r, grad), grad_tol(GetParam()));
}

// Each row is computed on its own: a row alone gives what it gives in the batch.
TEST_P(TopkForwardKlTest, RowsAreIndependent) {
  auto c = random_topk_case({7}, 37, 5, GetParam(), 10);
  for (bool renormalize : {false, true}) {
    auto [kl, grad] = run(c, renormalize);
    for (int64_t r : {0, 3, 6}) {
      auto row = c.student.detach()[r].clone().set_requires_grad(true);
      auto kl_r = topk_forward_kl(row, c.ids[r], c.logp[r], renormalize);
      auto grad_r = torch::autograd::grad({kl_r * c.weight[r].to(at::kFloat)}, {row})[0];
      EXPECT_TRUE(at::equal(kl_r, kl[r])) << "row " << r << " renormalize " << renormalize;
      EXPECT_TRUE(at::equal(grad_r, grad[r])) << "row " << r << " renormalize " << renormalize;
    }
  }
}

// Padded rows: all-equal or huge student logits, filler teacher entries
// (logp 0 for every slot, or -inf where the teacher had fewer live tokens).
TEST_P(TopkForwardKlTest, DegenerateRowsStayFinite) {
  auto c = random_topk_case({6}, 37, 8, at::kFloat, 13);
  auto student = c.student.detach().clone();
  student[0].fill_(0);
  student[1].fill_(1e4);
  student[2].mul_(3e3);
  c.logp[3].fill_(0);
  c.ids[3].fill_(0);
  c.logp[4].slice(0, 3).fill_(-kInf);
  c.logp[5].fill_(-1e30);
  c.student = student.to(GetParam()).set_requires_grad(true);
  for (bool renormalize : {false, true}) {
    auto [kl, grad] = run(c, renormalize);
    EXPECT_TRUE(at::isfinite(kl).all().item<bool>()) << "renormalize " << renormalize << kl;
    EXPECT_TRUE(at::isfinite(grad).all().item<bool>()) << "renormalize " << renormalize;
  }
  // A -inf teacher slot adds nothing: the same as leaving it out (slots 0..2 are live).
  auto live = topk_forward_kl(c.student[4], c.ids[4].slice(0, 0, 3), c.logp[4].slice(0, 0, 3), false);
  auto all = topk_forward_kl(c.student[4], c.ids[4], c.logp[4], false);
  EXPECT_TRUE(close(all.detach(), live.detach(), 1e-6, 1e-7));
}

// Adding a constant to a row changes nothing, even one so large (1e4) that
// logits - logsumexp(logits) would lose the low bits in fp32.
TEST_P(TopkForwardKlTest, ShiftedLogitsGiveTheSameKl) {
  auto c = random_topk_case({9}, 37, 6, at::kFloat, 31);
  auto shifted = (c.student.detach() + 1e4).to(GetParam());
  auto back = (shifted.to(at::kFloat) - 1e4).to(GetParam());  // exact: both within a factor 2
  for (bool renormalize : {false, true}) {
    EXPECT_TRUE(close(topk_forward_kl(shifted, c.ids, c.logp, renormalize),
                      topk_forward_kl(back, c.ids, c.logp, renormalize), 1e-5, 1e-5))
        << "renormalize " << renormalize;
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, TopkForwardKlTest, ::testing::Values(at::kFloat, at::kBFloat16),
                         [](const auto& info) { return info.param == at::kFloat ? "fp32" : "bf16"; });

TEST(TopkMass, SumsTheTeacherProbabilities) {
  auto c = random_topk_case({3, 4}, 37, 5, at::kFloat, 3);
  EXPECT_TRUE(close(topk_mass(c.logp), c.logp.to(at::kDouble).exp().sum(-1), 1e-6, 1e-7));
  EXPECT_TRUE(close(topk_mass(c.logp.to(at::kBFloat16)),
                    c.logp.to(at::kBFloat16).to(at::kDouble).exp().sum(-1), 1e-6, 1e-7));
  auto all = random_topk_case({3, 4}, 37, 37, at::kFloat, 4);
  EXPECT_TRUE(close(topk_mass(all.logp), at::ones({3, 4}, at::kDouble), 1e-5, 0));
  auto one = random_topk_case({7}, 37, 1, at::kFloat, 5);
  EXPECT_TRUE((topk_mass(one.logp) < 1).all().item<bool>());
  EXPECT_EQ(topk_mass(one.logp).scalar_type(), at::kFloat);
  testing::expect_error([] { topk_mass(at::zeros({})); }, {"topk_mass", "[]"});
}

TEST(TopkForwardKl, EmptyBatchGivesEmptyResult) {
  for (bool renormalize : {false, true}) {
    auto kl = topk_forward_kl(at::zeros({0, 3, 37}), at::zeros({0, 3, 5}, at::kLong),
                              at::zeros({0, 3, 5}), renormalize);
    EXPECT_EQ(kl.sizes(), at::IntArrayRef({0, 3}));
  }
}

TEST(TopkForwardKl, RejectsBadArguments) {
  auto student = at::zeros({4, 37});
  auto ids = at::zeros({4, 5}, at::kLong);
  auto logp = at::zeros({4, 5});
  testing::expect_error([&] { topk_forward_kl(student, ids, at::zeros({4, 6}), false); },
                        {"topk_forward_kl", "[4, 37]", "[4, 5]", "[4, 6]"});
  testing::expect_error([&] { topk_forward_kl(student, at::zeros({3, 5}, at::kLong), at::zeros({3, 5}), false); },
                        {"topk_forward_kl", "[4, 37]", "[3, 5]"});
  testing::expect_error([&] { topk_forward_kl(student, ids.to(at::kInt), logp, false); },
                        {"topk_forward_kl", "Int"});
  testing::expect_error([&] { topk_forward_kl(student, at::zeros({4, 38}, at::kLong), at::zeros({4, 38}), false); },
                        {"topk_forward_kl", "[4, 38]"});
  testing::expect_error([&] { topk_forward_kl(student, ids.fill_(37), logp, false); },
                        {"topk_forward_kl", "[0, 37)", "[37, 37]"});
  testing::expect_error([&] { topk_forward_kl(student, ids.fill_(-1), logp, true); },
                        {"topk_forward_kl", "[-1, -1]"});
}

}  // namespace
}  // namespace opd::ops
