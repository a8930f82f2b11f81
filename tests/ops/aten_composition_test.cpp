// Every fused op against the plain ATen composition it replaces
// (ops/aten_composition.h), values and gradients, fp32 and bf16, odd V,
// k = 1 and k = V, and padded rows (all-equal logits, as a model gives a pad
// position, and huge logits).
#include "opd/ops/aten_composition.h"
#include "opd/ops/full_vocab_kl.h"
#include "opd/ops/teacher_topk.h"
#include "opd/ops/topk_forward_kl.h"
#include "ops/padded_logits.h"
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

at::Tensor row_weights(int64_t rows, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::rand({rows}, gen, at::kFloat);
}

// (value, d sum(weight * value) / d student) for an op of the student logits.
template <typename Fn>
std::pair<at::Tensor, at::Tensor> value_and_grad(const at::Tensor& student, const at::Tensor& weight,
                                                 Fn fn) {
  auto x = student.detach().clone().set_requires_grad(true);
  auto value = fn(x);
  auto grad = torch::autograd::grad({(value * weight).sum()}, {x})[0];
  return {value.detach(), grad};
}

class FusedVsComposition : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(FusedVsComposition, TopkForwardKl) {
  for (int64_t V : {37, 1023}) {
    for (int64_t K : {int64_t{1}, int64_t{8}, V}) {
      const int64_t rows = 12;
      auto student = padded_logits(rows, V, GetParam(), V + K);
      auto top = aten_composition::teacher_topk(padded_logits(rows, V, at::kFloat, 3 * V + 1), K);
      auto w = row_weights(rows, K);
      for (bool renormalize : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "V " << V << " K " << K << " renormalize " << renormalize);
        auto [fused, g_fused] = value_and_grad(student, w, [&](const at::Tensor& x) {
          return topk_forward_kl(x, top.ids, top.logp, renormalize);
        });
        auto [plain, g_plain] = value_and_grad(student, w, [&](const at::Tensor& x) {
          return aten_composition::topk_forward_kl(x, top.ids, top.logp, renormalize);
        });
        EXPECT_TRUE(close(fused, plain, 1e-4, 1e-5));
        EXPECT_LT(rel_err(g_fused, g_plain), grad_tol(GetParam()));
      }
    }
  }
}

TEST_P(FusedVsComposition, FullVocabKl) {
  for (int64_t V : {37, 1023}) {
    const int64_t rows = 10;
    auto student = padded_logits(rows, V, GetParam(), V);
    // An fp32 teacher: in bf16 its top-k would be cut inside runs of tied
    // values, where any choice is right but the two sides may differ.
    auto teacher = padded_logits(rows, V, at::kFloat, V + 1);
    auto w = row_weights(rows, V);
    for (auto direction : {KlDirection::kForward, KlDirection::kReverse}) {
      for (int64_t support_k : {int64_t{0}, int64_t{1}, int64_t{16}, V}) {
        SCOPED_TRACE(::testing::Message() << "V " << V << " support_k " << support_k << " "
                                          << (direction == KlDirection::kForward ? "fwd" : "rev"));
        auto [fused, g_fused] = value_and_grad(student, w, [&](const at::Tensor& x) {
          return full_vocab_kl(x, teacher, direction, support_k);
        });
        auto [plain, g_plain] = value_and_grad(student, w, [&](const at::Tensor& x) {
          return aten_composition::full_vocab_kl(x, teacher, direction, support_k);
        });
        EXPECT_TRUE(close(fused, plain, 1e-4, 1e-5));
        EXPECT_LT(rel_err(g_fused, g_plain), grad_tol(GetParam()));
      }
    }
  }
}

TEST_P(FusedVsComposition, TeacherTopk) {
  for (int64_t V : {37, 4099}) {
    for (int64_t K : {int64_t{1}, int64_t{64}, V}) {
      if (K > V) continue;
      SCOPED_TRACE(::testing::Message() << "V " << V << " K " << K);
      auto logits = padded_logits(9, V, GetParam(), V * K);
      auto fused = teacher_topk(logits, K);
      auto plain = aten_composition::teacher_topk(logits, K);
      EXPECT_TRUE(close(fused.logp, plain.logp, 1e-5, 1e-5));
      EXPECT_TRUE(close(fused.entropy, plain.entropy, 1e-5, 1e-5));
      // The top of random fp32 rows has no ties: the same ids in the same order
      // (the two padded rows are all ties, bf16 rounds many values together,
      // and over all 4099 values of a row some fp32 values coincide).
      if (GetParam() == at::kFloat && K < V) {
        EXPECT_TRUE(at::equal(fused.ids.slice(0, 0, 7), plain.ids.slice(0, 0, 7)));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, FusedVsComposition, ::testing::Values(at::kFloat, at::kBFloat16),
                         [](const auto& info) { return info.param == at::kFloat ? "fp32" : "bf16"; });

}  // namespace
}  // namespace opd::ops
