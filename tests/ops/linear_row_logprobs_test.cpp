// The chunked lm_head + row log-prob op against a double-precision autograd
// reference of log_softmax(hidden @ weight^T) and against the unchunked
// row_logprobs of the same projection: values, entropy, both gradients, with
// chunks that do and do not divide the rows, in fp32 and bf16.
#include "opd/ops/linear_row_logprobs.h"
#include "opd/ops/row_logprobs.h"
#include "ops/tolerances.h"
#include "support/test_support.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <vector>

namespace opd::ops {
namespace {

using opd::testing::close;
using opd::testing::rel_err;

struct HeadCase {
  at::Tensor hidden;  // [B, T, H] leaf
  at::Tensor weight;  // [V, H] leaf
  at::Tensor ids;     // [B, T, K]
  at::Tensor g;       // [B, T, K] double upstream gradient
};

HeadCase random_head_case(int64_t B, int64_t T, int64_t H, int64_t V, int64_t K, at::ScalarType dtype,
                          uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  HeadCase c;
  c.hidden = at::randn({B, T, H}, gen, at::kFloat).to(dtype).set_requires_grad(true);
  c.weight = (at::randn({V, H}, gen, at::kFloat) * 0.5).to(dtype).set_requires_grad(true);
  c.ids = at::randint(V, {B, T, K}, gen, at::kLong);
  c.g = at::randn({B, T, K}, gen, at::kDouble);
  return c;
}

struct Result {
  at::Tensor logp, entropy, grad_hidden, grad_weight;
};

Result reference(const HeadCase& c) {
  auto h = c.hidden.detach().to(at::kDouble).set_requires_grad(true);
  auto w = c.weight.detach().to(at::kDouble).set_requires_grad(true);
  auto all = at::log_softmax(at::matmul(h, w.t()), -1);
  auto logp = all.gather(-1, c.ids);
  auto grads = torch::autograd::grad({(logp * c.g).sum()}, {h, w});
  return {logp.detach(), -(all.exp() * all).sum(-1).detach(), grads[0], grads[1]};
}

Result chunked(const HeadCase& c, int64_t chunk_rows) {
  auto out = linear_row_logprobs(c.hidden, c.weight, c.ids, /*entropy=*/true, chunk_rows);
  auto grads = torch::autograd::grad({(out.logp * c.g.to(at::kFloat)).sum()}, {c.hidden, c.weight});
  return {out.logp.detach(), out.entropy, grads[0], grads[1]};
}

class LinearRowLogprobsTest : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(LinearRowLogprobsTest, MatchesDoubleReferenceWhateverTheChunks) {
  const auto dtype = GetParam();
  auto c = random_head_case(3, 7, 16, 257, 5, dtype, 11);  // 21 rows
  const auto ref = reference(c);
  // bf16 logits are rounded before the softmax: values within bf16's step.
  const double value_tol = dtype == at::kBFloat16 ? 5e-2 : 1e-4;
  for (int64_t chunk : {1, 4, 21, 1000}) {
    SCOPED_TRACE(::testing::Message() << "chunk_rows " << chunk);
    const auto out = chunked(c, chunk);
    ASSERT_EQ(out.logp.scalar_type(), at::kFloat);
    ASSERT_EQ(out.logp.sizes(), c.ids.sizes());
    ASSERT_EQ(out.grad_hidden.scalar_type(), dtype);
    ASSERT_EQ(out.grad_weight.scalar_type(), dtype);
    EXPECT_TRUE(close(out.logp, ref.logp, value_tol, value_tol));
    EXPECT_TRUE(close(out.entropy, ref.entropy, value_tol, value_tol));
    EXPECT_FALSE(out.entropy.requires_grad());
    EXPECT_LT(rel_err(out.grad_hidden, ref.grad_hidden), 2 * grad_tol(dtype));
    EXPECT_LT(rel_err(out.grad_weight, ref.grad_weight), 2 * grad_tol(dtype));
  }
}

// The same logits as the unchunked op reads, so the same numbers: chunking
// changes where the logits live, not what is computed from them.
TEST_P(LinearRowLogprobsTest, AgreesWithRowLogprobsOfTheWholeProjection) {
  const auto dtype = GetParam();
  auto c = random_head_case(2, 9, 8, 101, 3, dtype, 5);
  const auto out = chunked(c, 5);
  auto whole = row_logprobs(at::matmul(c.hidden, c.weight.t()), c.ids, /*entropy=*/true);
  auto grads = torch::autograd::grad({(whole.logp * c.g.to(at::kFloat)).sum()}, {c.hidden, c.weight});
  EXPECT_TRUE(close(out.logp, whole.logp.detach(), 1e-5, 1e-5));
  EXPECT_TRUE(close(out.entropy, whole.entropy, 1e-5, 1e-5));
  EXPECT_LT(rel_err(out.grad_hidden, grads[0]), grad_tol(dtype));
  EXPECT_LT(rel_err(out.grad_weight, grads[1]), grad_tol(dtype));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, LinearRowLogprobsTest, ::testing::Values(at::kFloat, at::kBFloat16));

// A frozen head (LoRA trains adapters only) gets no gradient; the hidden
// states still do, and the result is the same.
TEST(LinearRowLogprobs, AFrozenWeightGetsNoGradient) {
  auto c = random_head_case(2, 4, 8, 33, 2, at::kFloat, 3);
  auto frozen = c.weight.detach();
  auto out = linear_row_logprobs(c.hidden, frozen, c.ids, /*entropy=*/false, 3);
  EXPECT_FALSE(out.entropy.defined());
  auto grad = torch::autograd::grad({(out.logp * c.g.to(at::kFloat)).sum()}, {c.hidden})[0];
  EXPECT_LT(rel_err(grad, reference(c).grad_hidden), grad_tol(at::kFloat));
}

// Strided hidden states (the trainer's aligned [:, :-1] view) are read as a copy would be.
TEST(LinearRowLogprobs, StridedHiddenStatesGetTheirGradientInPlace) {
  auto c = random_head_case(2, 6, 8, 19, 2, at::kFloat, 9);
  auto view = c.hidden.slice(1, 0, 5);
  auto ids = c.ids.slice(1, 0, 5);
  auto out = linear_row_logprobs(view, c.weight, ids, /*entropy=*/false, 4);
  auto grad = torch::autograd::grad({out.logp.sum()}, {c.hidden})[0];
  EXPECT_EQ(grad.slice(1, 5).abs().max().item<double>(), 0.0);
  auto copy = view.detach().contiguous().set_requires_grad(true);
  auto out_copy = linear_row_logprobs(copy, c.weight, ids, false, 4);
  auto grad_copy = torch::autograd::grad({out_copy.logp.sum()}, {copy})[0];
  EXPECT_TRUE(at::equal(grad.slice(1, 0, 5), grad_copy));
}

TEST(LinearRowLogprobs, RejectsMismatchedArguments) {
  auto c = random_head_case(2, 3, 8, 17, 2, at::kFloat, 1);
  opd::testing::expect_error([&] { linear_row_logprobs(c.hidden, c.weight.slice(1, 0, 7), c.ids, false, 4); }, {"weight [V, H]"});
  opd::testing::expect_error([&] { linear_row_logprobs(c.hidden, c.weight.to(at::kBFloat16), c.ids, false, 4); }, {"one float dtype"});
  opd::testing::expect_error([&] { linear_row_logprobs(c.hidden, c.weight, c.ids.slice(1, 0, 2), false, 4); }, {"leading sizes"});
  opd::testing::expect_error([&] { linear_row_logprobs(c.hidden, c.weight, c.ids, false, 0); }, {"chunk_rows must be >= 1"});
  opd::testing::expect_error([&] { linear_row_logprobs(c.hidden, c.weight, c.ids + 17, false, 4); }, {"must lie in [0, 17)"});
}

}  // namespace
}  // namespace opd::ops
