#include "opd/ops/teacher_topk.h"
#include "support/test_support.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace opd::ops {
namespace {

using opd::testing::close;

at::Tensor random_logits(std::vector<int64_t> sizes, at::ScalarType dtype, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return (at::randn(sizes, gen, at::kFloat) * 3).to(dtype);
}

// |actual - expected| <= atol + rtol |expected| everywhere, NaN/Inf fail.
class TeacherTopkTest : public ::testing::TestWithParam<at::ScalarType> {};

// Against a double log-softmax sorted in full: the values of the top k, the
// log-probs of the returned ids, and the entropy.
TEST_P(TeacherTopkTest, MatchesSortedDoubleLogSoftmax) {
  struct Shape {
    std::vector<int64_t> lead;
    int64_t V;
  };
  for (const auto& shape : {Shape{{13}, 37}, Shape{{3, 5}, 101}, Shape{{}, 37}}) {
    auto sizes = shape.lead;
    sizes.push_back(shape.V);
    auto logits = random_logits(sizes, GetParam(), 7 + shape.V);
    auto ref = at::log_softmax(logits.to(at::kDouble), -1);
    auto sorted = std::get<0>(ref.sort(-1, /*descending=*/true));
    auto ref_entropy = -(ref.exp() * ref).sum(-1);
    for (int64_t k : {int64_t{1}, int64_t{5}, shape.V}) {
      SCOPED_TRACE(::testing::Message() << "logits " << logits.sizes() << " k " << k);
      auto out = teacher_topk(logits, k);
      auto with_k = shape.lead;
      with_k.push_back(k);
      ASSERT_EQ(out.ids.sizes(), at::IntArrayRef(with_k));
      ASSERT_EQ(out.ids.scalar_type(), at::kLong);
      ASSERT_EQ(out.logp.scalar_type(), at::kFloat);
      ASSERT_EQ(out.entropy.scalar_type(), at::kFloat);
      ASSERT_EQ(out.entropy.sizes(), at::IntArrayRef(shape.lead));
      EXPECT_TRUE(close(out.logp, sorted.slice(-1, 0, k), 1e-5, 1e-5));
      // The ids are the tokens those log-probs belong to (ties may come in any order) ...
      EXPECT_TRUE(close(out.logp, ref.gather(-1, out.ids), 1e-5, 1e-5));
      // ... each at most once per row, in descending order.
      auto ids_sorted = std::get<0>(out.ids.sort(-1));
      EXPECT_TRUE((ids_sorted.slice(-1, 1) != ids_sorted.slice(-1, 0, k - 1)).all().item<bool>());
      EXPECT_TRUE((out.logp.slice(-1, 0, k - 1) >= out.logp.slice(-1, 1)).all().item<bool>());
      if (k == shape.V) {
        EXPECT_TRUE(at::equal(ids_sorted, at::arange(shape.V).expand_as(ids_sorted)));
        EXPECT_TRUE(close(out.logp.exp().sum(-1), at::ones(shape.lead, at::kDouble), 1e-5, 0));
      }
      EXPECT_TRUE(close(out.entropy, ref_entropy, 1e-5, 1e-5));
    }
  }
}

// The aligned logits [B, T-1, V] of a [B, T, V] tensor are read in place.
TEST_P(TeacherTopkTest, StridedViewGivesTheSameResultAsACopy) {
  auto logits = random_logits({4, 8, 37}, GetParam(), 3);
  auto view = logits.slice(1, 0, 7);
  auto a = teacher_topk(view, 6);
  auto b = teacher_topk(view.contiguous(), 6);
  EXPECT_TRUE(at::equal(a.ids, b.ids));
  EXPECT_TRUE(at::equal(a.logp, b.logp));
  EXPECT_TRUE(at::equal(a.entropy, b.entropy));
}

// Padded rows hold whatever the model produced; none may turn into NaN/Inf.
TEST_P(TeacherTopkTest, DegenerateRowsStayFinite) {
  const int64_t V = 37;
  auto logits = random_logits({6, V}, at::kFloat, 5);
  logits[0].fill_(0);     // all equal
  logits[1].fill_(1e4);   // all equal and huge
  logits[2].mul_(3e3);    // a spread far beyond exp's range
  logits[3].slice(0, 0, 10).fill_(-std::numeric_limits<float>::infinity());  // masked vocab
  logits[4].fill_(-1e4);
  logits = logits.to(GetParam());
  auto out = teacher_topk(logits, 10);
  EXPECT_TRUE(at::isfinite(out.logp).all().item<bool>()) << out.logp;
  EXPECT_TRUE(at::isfinite(out.entropy).all().item<bool>()) << out.entropy;
  for (int64_t row : {0, 1, 4}) {
    EXPECT_TRUE(close(out.logp[row], at::full({10}, -std::log(double(V)), at::kDouble), 1e-6, 1e-6));
    EXPECT_NEAR(out.entropy[row].item<double>(), std::log(double(V)), 1e-5);
  }
  EXPECT_NEAR(out.entropy[2].item<double>(), 0.0, 1e-5);  // one token takes all the mass
  // Masked tokens never make the top 10 of a row with 10 live tokens; k = V shows them as -inf.
  EXPECT_TRUE((out.ids[3] >= 10).all().item<bool>());
  auto all = teacher_topk(logits, V);
  EXPECT_TRUE(at::isinf(all.logp[3].slice(0, V - 10)).all().item<bool>());
  EXPECT_TRUE(at::isfinite(all.logp[3].slice(0, 0, V - 10)).all().item<bool>());
  EXPECT_TRUE(std::isfinite(all.entropy[3].item<double>()));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, TeacherTopkTest, ::testing::Values(at::kFloat, at::kBFloat16),
                         [](const auto& info) { return info.param == at::kFloat ? "fp32" : "bf16"; });

TEST(TeacherTopk, NeverTracksGradients) {
  auto logits = random_logits({3, 37}, at::kFloat, 1).set_requires_grad(true);
  auto out = teacher_topk(logits, 4);
  EXPECT_FALSE(out.logp.requires_grad());
  EXPECT_FALSE(out.entropy.requires_grad());
}

TEST(TeacherTopk, EmptyBatchGivesEmptyResults) {
  auto out = teacher_topk(at::zeros({0, 5, 37}), 4);
  EXPECT_EQ(out.ids.sizes(), at::IntArrayRef({0, 5, 4}));
  EXPECT_EQ(out.entropy.sizes(), at::IntArrayRef({0, 5}));
}

TEST(TeacherTopk, RejectsBadArguments) {
  auto logits = at::zeros({4, 37});
  testing::expect_error([&] { teacher_topk(logits, 0); }, {"teacher_topk", "[4, 37]", "k 0"});
  testing::expect_error([&] { teacher_topk(logits, 38); }, {"teacher_topk", "[4, 37]", "k 38"});
  testing::expect_error([&] { teacher_topk(at::zeros({}), 1); }, {"teacher_topk", "[]"});
  testing::expect_error([&] { teacher_topk(at::zeros({4, 37}, at::kLong), 1); },
                        {"teacher_topk", "[4, 37]", "Long"});
}

}  // namespace
}  // namespace opd::ops
