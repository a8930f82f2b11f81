#include "opd/ops/full_vocab_kl.h"
#include "ops/tolerances.h"
#include "support/test_support.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <string>
#include <vector>

namespace opd::ops {
namespace {

using opd::testing::close;
using opd::testing::rel_err;

const char* name(KlDirection d) { return d == KlDirection::kForward ? "forward" : "reverse"; }

struct KlCase {
  at::Tensor student;  // [..., V] leaf of the tested dtype
  at::Tensor teacher;  // [..., V] same dtype; distinct values per row so the top-k support is unambiguous
  at::Tensor weight;   // [...] double
};

KlCase random_kl_case(std::vector<int64_t> lead, int64_t V, at::ScalarType dtype, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto sizes = lead;
  sizes.push_back(V);
  KlCase c;
  c.student = (at::randn(sizes, gen, at::kFloat) * 2).to(dtype).set_requires_grad(true);
  // A random permutation of a 1/16 grid: exact in bf16 for V <= 128, no ties.
  auto perm = at::rand(sizes, gen, at::kDouble).argsort(int64_t{-1}).to(at::kDouble);
  c.teacher = ((perm - V / 2.0) / 8.0).to(dtype);
  c.weight = at::rand(lead, gen, at::kDouble);
  return c;
}

// Dense double formula with probabilities (not log-softmax): restrict to the
// support by zeroing, divide by the remaining mass, sum p log(p / q) where p > 0.
at::Tensor reference_kl(const at::Tensor& student, const at::Tensor& teacher, KlDirection d,
                        int64_t support_k) {
  auto p_s = at::softmax(student, -1);
  auto p_t = at::softmax(teacher, -1);
  if (support_k > 0) {
    auto top = std::get<1>(teacher.sort(-1, /*descending=*/true)).slice(-1, 0, support_k);
    auto on = at::zeros_like(p_t).scatter(-1, top, 1.0);
    p_s = p_s * on / (p_s * on).sum(-1, true);
    p_t = p_t * on / (p_t * on).sum(-1, true);
  }
  auto [p, q] = d == KlDirection::kForward ? std::pair{p_t, p_s} : std::pair{p_s, p_t};
  // Off the weighting support p = 0: take log(1 / 1) there, so that neither the
  // value nor the gradient sees 0 * log(0 / 0).
  auto live = p.detach() > 0;
  auto one = at::ones_like(p);
  return (p * (at::where(live, p, one) / at::where(live, q, one)).log()).sum(-1);
}

std::pair<at::Tensor, at::Tensor> reference(const KlCase& c, KlDirection d, int64_t support_k) {
  auto x = c.student.detach().to(at::kDouble).set_requires_grad(true);
  auto kl = reference_kl(x, c.teacher.to(at::kDouble), d, support_k);
  auto grad = torch::autograd::grad({(kl * c.weight).sum()}, {x})[0];
  return {kl.detach(), grad};
}

std::pair<at::Tensor, at::Tensor> run(const KlCase& c, KlDirection d, int64_t support_k) {
  auto kl = full_vocab_kl(c.student, c.teacher, d, support_k);
  auto grad = torch::autograd::grad({(kl * c.weight.to(at::kFloat)).sum()}, {c.student})[0];
  return {kl.detach(), grad};
}

class FullVocabKlTest : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(FullVocabKlTest, MatchesDenseDoubleReference) {
  struct Shape {
    std::vector<int64_t> lead;
    int64_t V;
  };
  for (const auto& shape : {Shape{{13}, 37}, Shape{{3, 5}, 101}, Shape{{}, 37}}) {
    for (auto d : {KlDirection::kForward, KlDirection::kReverse}) {
      for (int64_t k : {int64_t{0}, int64_t{1}, int64_t{6}, shape.V}) {
        SCOPED_TRACE(::testing::Message() << name(d) << " V " << shape.V << " support_k " << k
                                          << " lead " << shape.lead.size() << "d");
        auto c = random_kl_case(shape.lead, shape.V, GetParam(), 30 + k);
        auto [kl, grad] = run(c, d, k);
        auto [ref_kl, ref_grad] = reference(c, d, k);
        EXPECT_EQ(kl.scalar_type(), at::kFloat);
        EXPECT_EQ(kl.sizes(), at::IntArrayRef(shape.lead));
        EXPECT_TRUE(close(kl, ref_kl, 1e-5, 1e-5));
        if (k == 1) {
          EXPECT_EQ(grad.abs().max().item<double>(), 0.0);  // one token: both distributions are 1
        } else {
          EXPECT_LT(rel_err(grad, ref_grad), grad_tol(GetParam()));
        }
        if (k > 0) {
          // Off the support nothing moves.
          auto top = std::get<1>(c.teacher.sort(-1, true)).slice(-1, 0, k);
          auto off = at::ones_like(grad, at::kBool).scatter(-1, top, false);
          if (off.any().item<bool>()) {
            EXPECT_EQ(grad.masked_select(off).abs().max().item<double>(), 0.0);
          }
        }
      }
    }
  }
}

TEST_P(FullVocabKlTest, ZeroWithZeroGradientWhenStudentEqualsTeacher) {
  auto c = random_kl_case({3, 4}, 37, GetParam(), 2);
  c.teacher = c.student.detach().clone();
  for (auto d : {KlDirection::kForward, KlDirection::kReverse}) {
    for (int64_t k : {0, 5}) {
      auto [kl, grad] = run(c, d, k);
      EXPECT_LE(kl.abs().max().item<double>(), 1e-7) << name(d) << " support_k " << k;
      EXPECT_LE(grad.to(at::kDouble).abs().max().item<double>(), 1e-6) << name(d) << " support_k " << k;
    }
  }
}

TEST_P(FullVocabKlTest, NeverNegative) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(17);
  auto student = (at::randn({512, 37}, gen, at::kFloat) * 4).to(GetParam());
  // Teachers near the student too, where rounding could push a sum below 0.
  auto teacher = (student.to(at::kFloat) + at::randn({512, 37}, gen, at::kFloat) *
                                               at::rand({512, 1}, gen).pow(4)).to(GetParam());
  for (auto d : {KlDirection::kForward, KlDirection::kReverse}) {
    for (int64_t k : {0, 8}) {
      auto kl = full_vocab_kl(student, teacher, d, k);
      EXPECT_GE(kl.min().item<double>(), -1e-6) << name(d) << " support_k " << k;
      EXPECT_GT(kl.max().item<double>(), 0.0) << name(d) << " support_k " << k;
    }
  }
}

// The fused op reads strided views in place (the trainer's aligned logits
// [B, T-1, V] of [B, T, V], a vocabulary cut): the same result as contiguous copies.
TEST_P(FullVocabKlTest, StridedViewsGiveTheSameResultAsCopies) {
  auto c = random_kl_case({4, 8}, 40, GetParam(), 8);
  auto student_full = c.student.detach().clone().set_requires_grad(true);
  auto student_view = student_full.slice(1, 0, 7).slice(2, 0, 37);  // aligned, cut to V = 37
  auto teacher_view = c.teacher.slice(1, 0, 7).slice(2, 0, 37);
  ASSERT_FALSE(student_view.is_contiguous());
  for (auto d : {KlDirection::kForward, KlDirection::kReverse}) {
    auto kl = full_vocab_kl(student_view, teacher_view, d);
    auto grad = torch::autograd::grad({kl.sum()}, {student_full})[0];
    auto copy = student_view.detach().contiguous().set_requires_grad(true);
    auto kl_copy = full_vocab_kl(copy, teacher_view.contiguous(), d);
    auto grad_copy = torch::autograd::grad({kl_copy.sum()}, {copy})[0];
    EXPECT_TRUE(at::equal(kl, kl_copy)) << name(d);
    EXPECT_TRUE(at::equal(grad.slice(1, 0, 7).slice(2, 0, 37), grad_copy)) << name(d);
    EXPECT_EQ(grad.slice(1, 7).abs().max().item<double>(), 0.0) << name(d);
    EXPECT_EQ(grad.slice(2, 37).abs().max().item<double>(), 0.0) << name(d);
  }
}

// Padded rows: all-equal, huge or extreme logits on either side; masked (-inf)
// teacher tokens in the forward direction, masked student tokens in the reverse.
TEST_P(FullVocabKlTest, DegenerateRowsStayFinite) {
  const double inf = std::numeric_limits<double>::infinity();
  auto c = random_kl_case({6}, 37, at::kFloat, 4);
  auto student = c.student.detach().clone();
  auto teacher = c.teacher.clone();
  student[0].fill_(0);
  teacher[0].fill_(0);
  student[1].fill_(1e4);
  teacher[2].fill_(-1e4);
  student[3].mul_(3e3);
  teacher[4].mul_(3e3);
  c.teacher = teacher.to(GetParam());
  c.student = student.to(GetParam()).set_requires_grad(true);
  for (auto d : {KlDirection::kForward, KlDirection::kReverse}) {
    for (int64_t k : {0, 5}) {
      auto [kl, grad] = run(c, d, k);
      EXPECT_TRUE(at::isfinite(kl).all().item<bool>()) << name(d) << " support_k " << k << kl;
      EXPECT_TRUE(at::isfinite(grad).all().item<bool>()) << name(d) << " support_k " << k;
    }
  }
  EXPECT_EQ(full_vocab_kl(c.student[0], c.teacher[0], KlDirection::kForward).item<double>(), 0.0);
  // Probability 0 on the weighting side: that token adds nothing, in value or gradient.
  auto masked_teacher = c.teacher.clone();
  masked_teacher.slice(-1, 0, 10).fill_(-inf);
  auto masked_student = c.student.detach().clone();
  masked_student.slice(-1, 0, 10).fill_(-inf);
  masked_student.set_requires_grad(true);
  for (int64_t k : {0, 5}) {
    auto fwd = full_vocab_kl(c.student, masked_teacher, KlDirection::kForward, k);
    auto rev = full_vocab_kl(masked_student, c.teacher, KlDirection::kReverse, k);
    auto g_fwd = torch::autograd::grad({fwd.sum()}, {c.student})[0];
    auto g_rev = torch::autograd::grad({rev.sum()}, {masked_student})[0];
    EXPECT_TRUE(at::isfinite(fwd).all().item<bool>() && at::isfinite(g_fwd).all().item<bool>()) << k;
    EXPECT_TRUE(at::isfinite(rev).all().item<bool>() && at::isfinite(g_rev).all().item<bool>()) << k;
  }
  // The other way round the divergence is truly infinite where the teacher puts
  // mass on the masked tokens (rows 0, 1: every token has p_T > 0), and says so.
  auto infinite = full_vocab_kl(masked_student.detach(), c.teacher, KlDirection::kForward);
  EXPECT_TRUE(at::isinf(infinite.slice(0, 0, 2)).all().item<bool>()) << infinite;
}

// Adding a constant to a row changes nothing, even one so large (1e4) that
// logits - logsumexp(logits) would lose the low bits in fp32.
TEST_P(FullVocabKlTest, ShiftedLogitsGiveTheSameKl) {
  auto c = random_kl_case({9}, 37, at::kFloat, 31);
  // x + 1e4 in the dtype, and that minus 1e4 (exact: both within a factor 2).
  auto shift = [&](const at::Tensor& x) {
    auto shifted = (x.detach().to(at::kFloat) + 1e4).to(GetParam());
    return std::pair{shifted, (shifted.to(at::kFloat) - 1e4).to(GetParam())};
  };
  auto [student, student_back] = shift(c.student);
  auto [teacher, teacher_back] = shift(c.teacher);
  for (auto d : {KlDirection::kForward, KlDirection::kReverse}) {
    for (int64_t k : {0, 6}) {
      auto expected = full_vocab_kl(student_back, teacher_back, d, k);
      EXPECT_TRUE(close(full_vocab_kl(student, teacher_back, d, k), expected, 1e-5, 1e-5))
          << name(d) << " support_k " << k << " (student shifted)";
      EXPECT_TRUE(close(full_vocab_kl(student_back, teacher, d, k), expected, 1e-5, 1e-5))
          << name(d) << " support_k " << k << " (teacher shifted)";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FullVocabKlTest, ::testing::Values(at::kFloat, at::kBFloat16),
                         [](const auto& info) { return info.param == at::kFloat ? "fp32" : "bf16"; });

TEST(FullVocabKl, TeacherGetsNoGradient) {
  auto c = random_kl_case({5}, 37, at::kFloat, 1);
  auto teacher = c.teacher.clone().set_requires_grad(true);
  auto kl = full_vocab_kl(c.student, teacher, KlDirection::kReverse, 4);
  kl.sum().backward();
  EXPECT_FALSE(teacher.grad().defined());
  EXPECT_TRUE(c.student.grad().defined());
}

TEST(FullVocabKl, EmptyBatchGivesEmptyResult) {
  for (int64_t k : {0, 5}) {
    auto kl = full_vocab_kl(at::zeros({0, 3, 37}), at::zeros({0, 3, 37}), KlDirection::kForward, k);
    EXPECT_EQ(kl.sizes(), at::IntArrayRef({0, 3}));
  }
}

TEST(FullVocabKl, RejectsBadArguments) {
  auto s = at::zeros({4, 37});
  testing::expect_error([&] { full_vocab_kl(s, at::zeros({4, 36}), KlDirection::kForward); },
                        {"full_vocab_kl", "[4, 37]", "[4, 36]"});
  testing::expect_error([&] { full_vocab_kl(s, s, KlDirection::kForward, 38); },
                        {"full_vocab_kl", "[4, 37]", "support_k 38"});
  testing::expect_error([&] { full_vocab_kl(s, s, KlDirection::kReverse, -1); },
                        {"full_vocab_kl", "support_k -1"});
  testing::expect_error([&] { full_vocab_kl(at::zeros({}), at::zeros({}), KlDirection::kReverse); },
                        {"full_vocab_kl", "[]"});
}

}  // namespace
}  // namespace opd::ops
