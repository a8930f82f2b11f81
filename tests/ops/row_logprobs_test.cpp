// The fused row log-prob op against a double-precision autograd reference and
// against the plain ATen composition it replaces, in fp32 and bf16.
#include "opd/ops/aten_composition.h"
#include "opd/ops/row_logprobs.h"
#include "opd/ops/token_logprob.h"
#include "ops/tolerances.h"
#include "support/test_support.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <limits>
#include <vector>

namespace opd::ops {
namespace {

using opd::testing::close;
using opd::testing::rel_err;

struct RowCase {
  at::Tensor logits;  // [..., V] leaf in the tested dtype
  at::Tensor ids;     // [..., K]
  at::Tensor weight;  // [..., K] double upstream gradient
};

RowCase random_row_case(std::vector<int64_t> lead, int64_t V, int64_t K, at::ScalarType dtype,
                 uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto sizes = lead;
  sizes.push_back(V);
  auto with_k = lead;
  with_k.push_back(K);
  RowCase c;
  c.logits = (at::randn(sizes, gen, at::kFloat) * 3).to(dtype).set_requires_grad(true);
  c.ids = at::randint(V, with_k, gen, at::kLong);
  c.weight = at::randn(with_k, gen, at::kDouble);
  return c;
}

// log_softmax in double, gathered, differentiated by autograd.
std::pair<at::Tensor, at::Tensor> reference(const RowCase& c) {
  auto x = c.logits.detach().to(at::kDouble).set_requires_grad(true);
  auto logp = at::log_softmax(x, -1).gather(-1, c.ids);
  auto grad = torch::autograd::grad({(logp * c.weight).sum()}, {x})[0];
  return {logp.detach(), grad};
}

std::pair<at::Tensor, at::Tensor> run(const RowCase& c) {
  auto logp = row_logprobs(c.logits, c.ids).logp;
  auto grad = torch::autograd::grad({(logp * c.weight.to(at::kFloat)).sum()}, {c.logits})[0];
  return {logp.detach(), grad};
}

class RowLogprobsTest : public ::testing::TestWithParam<at::ScalarType> {};

// Odd vocabularies, K = 1 and K = V, repeated ids, leading dims of rank 0..2.
TEST_P(RowLogprobsTest, MatchesDoubleReference) {
  struct Shape {
    std::vector<int64_t> lead;
    int64_t V, K;
  };
  for (const auto& shape : {Shape{{13}, 37, 1}, Shape{{3, 5}, 101, 7}, Shape{{}, 37, 37},
                            Shape{{4}, 1, 3}, Shape{{2, 3}, 4099, 65}}) {
    SCOPED_TRACE(::testing::Message() << "V " << shape.V << " K " << shape.K);
    auto c = random_row_case(shape.lead, shape.V, shape.K, GetParam(), 3 + shape.V);
    auto [logp, grad] = run(c);
    auto [ref, ref_grad] = reference(c);
    ASSERT_EQ(logp.scalar_type(), at::kFloat);
    ASSERT_EQ(grad.scalar_type(), GetParam());
    EXPECT_TRUE(close(logp, ref, 1e-5, 1e-5));
    EXPECT_LT(rel_err(grad, ref_grad), grad_tol(GetParam()));
  }
}

TEST_P(RowLogprobsTest, EntropyMatchesDoubleReference) {
  for (int64_t V : {1, 37, 4099}) {
    auto c = random_row_case({5}, V, 2, GetParam(), V);
    auto out = row_logprobs(c.logits, c.ids, /*entropy=*/true);
    auto logp = at::log_softmax(c.logits.detach().to(at::kDouble), -1);
    auto expected = -(logp.exp() * logp).sum(-1);
    EXPECT_TRUE(close(out.entropy, expected, 1e-5, 1e-5)) << "V " << V;
    EXPECT_FALSE(out.entropy.requires_grad());
    EXPECT_TRUE(close(softmax_entropy(c.logits), expected, 1e-5, 1e-5)) << "V " << V;
  }
}

// The composition this op replaces, on the same inputs and dtype.
TEST_P(RowLogprobsTest, MatchesTheAtenComposition) {
  auto c = random_row_case({6, 9}, 1001, 8, GetParam(), 17);
  auto [logp, grad] = run(c);
  auto composed = aten_composition::gather_logprobs(c.logits, c.ids);
  auto composed_grad =
      torch::autograd::grad({(composed * c.weight.to(at::kFloat)).sum()}, {c.logits})[0];
  EXPECT_TRUE(close(logp, composed.detach(), 1e-5, 1e-5));
  EXPECT_LT(rel_err(grad, composed_grad), grad_tol(GetParam()));
  EXPECT_TRUE(close(softmax_entropy(c.logits), aten_composition::softmax_entropy(c.logits), 1e-5,
                    1e-5));
}

// The trainer's aligned logits [B, T-1, V] of [B, T, V], cut to a smaller
// vocabulary, are read in place: the same values and gradient as a copy.
TEST_P(RowLogprobsTest, StridedViewsAreReadInPlace) {
  auto c = random_row_case({3, 8}, 45, 4, GetParam(), 5);
  auto view = c.logits.slice(1, 0, 7).slice(2, 0, 40);
  auto ids = c.ids.slice(1, 0, 7).clamp_max(39);
  auto logp = row_logprobs(view, ids, true);
  auto grad = torch::autograd::grad({logp.logp.sum()}, {c.logits})[0];
  auto copy = view.detach().contiguous().set_requires_grad(true);
  auto logp_copy = row_logprobs(copy, ids, true);
  auto grad_copy = torch::autograd::grad({logp_copy.logp.sum()}, {copy})[0];
  EXPECT_TRUE(at::equal(logp.logp, logp_copy.logp));
  EXPECT_TRUE(at::equal(logp.entropy, logp_copy.entropy));
  EXPECT_TRUE(at::equal(grad.slice(1, 0, 7).slice(2, 0, 40), grad_copy));
  EXPECT_EQ(grad.slice(2, 40).abs().max().item<double>(), 0.0);
  EXPECT_EQ(grad.slice(1, 7).abs().max().item<double>(), 0.0);
}

// Large logits (where x - logsumexp(x) in fp32 would lose the low bits), -inf
// (a masked vocabulary) and equal rows stay exact and finite.
TEST_P(RowLogprobsTest, DegenerateRows) {
  const float inf = std::numeric_limits<float>::infinity();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(2);
  auto base = at::randn({4, 37}, gen, at::kFloat);
  auto logits = base.clone();
  logits[0].add_(1e4);
  logits[1].fill_(0);
  logits[2].slice(0, 0, 10).fill_(-inf);
  logits[3].mul_(3e3);
  logits = logits.to(GetParam()).set_requires_grad(true);
  auto ids = at::tensor({int64_t{3}, int64_t{5}, int64_t{20}, int64_t{0}}).view({4, 1});
  auto out = row_logprobs(logits, ids, true);
  auto grad = torch::autograd::grad({out.logp.sum()}, {logits})[0];
  EXPECT_TRUE(at::isfinite(out.logp).all().item<bool>()) << out.logp;
  EXPECT_TRUE(at::isfinite(out.entropy).all().item<bool>()) << out.entropy;
  EXPECT_TRUE(at::isfinite(grad).all().item<bool>());
  // Shifting a row by 1e4 changes nothing (up to the dtype holding x + 1e4).
  auto shifted_back = (logits.detach()[0].to(at::kFloat) - 1e4).to(GetParam());
  auto unshifted = row_logprobs(shifted_back, ids[0]).logp;
  EXPECT_TRUE(close(out.logp[0], unshifted.to(at::kDouble), 1e-5, 1e-5));
  EXPECT_NEAR(out.logp[1].item<double>(), -std::log(37.0), 1e-6);
  EXPECT_NEAR(out.entropy[1].item<double>(), std::log(37.0), 1e-5);
  // Masked tokens have zero probability and zero gradient.
  EXPECT_EQ(grad[2].slice(0, 0, 10).abs().max().item<double>(), 0.0);
  auto live = at::log_softmax(logits.detach()[2].slice(0, 10).to(at::kDouble), -1);
  EXPECT_NEAR(out.entropy[2].item<double>(), -(live.exp() * live).sum().item<double>(), 1e-5);
}

// The raw passes write into a buffer the caller owns, in the logits' dtype,
// exactly what autograd gets.
TEST_P(RowLogprobsTest, BackwardIntoACallersBuffer) {
  auto c = random_row_case({4, 6}, 301, 5, GetParam(), 9);
  auto [logp, grad] = run(c);
  auto forward = row_logprobs_forward(c.logits.detach(), c.ids, false);
  EXPECT_TRUE(at::equal(forward.logp, logp));
  EXPECT_FALSE(forward.entropy.defined());
  auto buffer = at::full(c.logits.sizes(), 7.0, c.logits.options().requires_grad(false));
  row_logprobs_backward(c.logits.detach(), c.ids, forward, c.weight.to(at::kFloat), buffer);
  EXPECT_TRUE(at::equal(buffer, grad));
  testing::expect_error(
      [&] { row_logprobs_backward(c.logits.detach(), c.ids, forward, c.weight, buffer.to(at::kDouble)); },
      {"row_logprobs_backward", "grad_logits"});
}

INSTANTIATE_TEST_SUITE_P(Dtypes, RowLogprobsTest, ::testing::Values(at::kFloat, at::kBFloat16),
                         [](const auto& info) { return info.param == at::kFloat ? "fp32" : "bf16"; });

// Other float dtypes go through an fp32 copy and get their gradient back in their dtype.
TEST(RowLogprobs, DoubleAndHalfLogits) {
  for (auto dtype : {at::kDouble, at::kHalf}) {
    auto c = random_row_case({3}, 37, 4, dtype, 1);
    auto [logp, grad] = run(c);
    auto [ref, ref_grad] = reference(c);
    EXPECT_EQ(grad.scalar_type(), dtype);
    EXPECT_TRUE(close(logp, ref, 1e-5, 1e-5)) << dtype;
    EXPECT_LT(rel_err(grad, ref_grad), dtype == at::kHalf ? 2e-3 : 1e-5) << dtype;
  }
}

TEST(RowLogprobs, EmptyBatchAndNoIds) {
  auto out = row_logprobs(at::zeros({0, 3, 37}), at::zeros({0, 3, 2}, at::kLong), true);
  EXPECT_EQ(out.logp.sizes(), at::IntArrayRef({0, 3, 2}));
  EXPECT_EQ(out.entropy.sizes(), at::IntArrayRef({0, 3}));
  EXPECT_EQ(softmax_entropy(at::zeros({2, 5})).sizes(), at::IntArrayRef({2}));
}

TEST(RowLogprobs, RejectsBadArguments) {
  auto logits = at::zeros({4, 37});
  testing::expect_error([&] { row_logprobs(logits, at::zeros({3, 2}, at::kLong)); },
                        {"row_logprobs", "[4, 37]", "[3, 2]"});
  testing::expect_error([&] { row_logprobs(logits, at::zeros({4, 2}, at::kInt)); },
                        {"row_logprobs", "int64", "Int"});
  testing::expect_error([&] { row_logprobs(logits, at::full({4, 2}, 37, at::kLong)); },
                        {"row_logprobs", "[0, 37)", "[37, 37]"});
  testing::expect_error([&] { row_logprobs(at::zeros({4, 37}, at::kLong), at::zeros({4, 2}, at::kLong)); },
                        {"row_logprobs", "float logits", "Long"});
  testing::expect_error([&] { token_logprob(logits, at::zeros({4, 1}, at::kLong)); },
                        {"token_logprob", "[4, 37]", "[4, 1]"});
}

}  // namespace
}  // namespace opd::ops
