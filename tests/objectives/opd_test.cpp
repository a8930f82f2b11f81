#include "opd/core/rollout_batch.h"
#include "opd/objectives/registry.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

namespace opd {
namespace {

struct Case {
  at::Tensor logits;  // [B, T, V] leaf, requires grad
  ObjectiveInputs in;
};

// Random inputs with padding (loss_mask 0) and all three sources mixed in.
Case random_case(at::ScalarType dtype, uint64_t seed, int64_t B = 3, int64_t T = 7, int64_t V = 37) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  Case c;
  c.logits = (at::randn({B, T, V}, gen, at::kFloat) * 3).to(dtype).set_requires_grad(true);
  c.in.student_logits = c.logits;
  c.in.targets = at::randint(V, {B, T}, gen, at::kLong);
  c.in.source = at::randint(3, {B, T}, gen, at::kLong).to(at::kChar);
  c.in.loss_mask = (at::rand({B, T}, gen) > 0.2).to(at::kFloat) * (c.in.source != 0).to(at::kFloat);
  c.in.token_weight = c.in.loss_mask / std::max(1.0, c.in.loss_mask.sum().item<double>());
  // The teacher's log-probs of the same targets under its own random logits.
  auto teacher_logits = at::randn({B, T, V}, gen, at::kFloat) * 2;
  c.in.teacher_logprobs =
      at::log_softmax(teacher_logits, -1).gather(-1, c.in.targets.unsqueeze(-1)).squeeze(-1);
  return c;
}

// The plain formula through autograd, in double, over the full log-softmax.
std::pair<double, at::Tensor> reference(const Case& c) {
  auto logits = c.logits.detach().to(at::kDouble).set_requires_grad(true);
  auto s = at::log_softmax(logits, -1).gather(-1, c.in.targets.unsqueeze(-1)).squeeze(-1);
  auto on = (c.in.source == 2).to(at::kDouble) * c.in.loss_mask.to(at::kDouble);
  auto A = (c.in.teacher_logprobs.to(at::kDouble) - s).detach();
  auto loss = (-A * s * c.in.token_weight.to(at::kDouble) * on).sum();
  auto grad = torch::autograd::grad({loss}, {logits})[0];
  return {loss.item<double>(), grad};
}

class OpdObjectiveTest : public ::testing::TestWithParam<at::ScalarType> {};

// The opd objective with every other setting at its default.
ObjectiveConfig opd_config() {
  ObjectiveConfig config;
  config.kind = ObjectiveKind::kOpd;
  return config;
}

TEST_P(OpdObjectiveTest, LossAndGradientMatchPlainFormula) {
  const bool bf16 = GetParam() == at::kBFloat16;
  for (uint64_t seed : {1, 2, 3}) {
    auto c = random_case(GetParam(), seed);
    auto objective = make_objective(opd_config());
    auto out = objective->compute(c.in);
    out.loss.backward();
    auto [ref_loss, ref_grad] = reference(c);
    EXPECT_NEAR(out.loss.item<double>(), ref_loss, (bf16 ? 1e-2 : 1e-5) * std::abs(ref_loss));
    auto grad = c.logits.grad().to(at::kDouble);
    const double rel = ((grad - ref_grad).norm() / ref_grad.norm()).item<double>();
    EXPECT_LT(rel, bf16 ? 1e-2 : 1e-5) << "seed " << seed;
    // Tokens that are not on-policy, or masked, receive no gradient at all.
    auto off = ((c.in.source != 2) | (c.in.loss_mask == 0)).unsqueeze(-1).expand_as(grad);
    EXPECT_EQ(grad.masked_select(off).abs().max().item<double>(), 0.0);
  }
}

// The closed form of the same gradient: d/dz [-A w s] = -A w (onehot - softmax).
TEST_P(OpdObjectiveTest, GradientMatchesClosedForm) {
  auto c = random_case(GetParam(), 9);
  auto out = make_objective(opd_config())->compute(c.in);
  out.loss.backward();
  auto z = c.logits.detach().to(at::kDouble);
  auto p = at::softmax(z, -1);
  auto s = at::log_softmax(z, -1).gather(-1, c.in.targets.unsqueeze(-1)).squeeze(-1);
  auto on = (c.in.source == 2).to(at::kDouble) * c.in.loss_mask.to(at::kDouble);
  auto coef = -(c.in.teacher_logprobs.to(at::kDouble) - s) * c.in.token_weight.to(at::kDouble) * on;
  auto onehot = at::zeros_like(z).scatter_(-1, c.in.targets.unsqueeze(-1), 1.0);
  auto expected = coef.unsqueeze(-1) * (onehot - p);
  const double rel = ((c.logits.grad().to(at::kDouble) - expected).norm() / expected.norm()).item<double>();
  EXPECT_LT(rel, GetParam() == at::kBFloat16 ? 1e-2 : 1e-5);
}

TEST_P(OpdObjectiveTest, MetricsAreMeansOverStudentTokens) {
  auto c = random_case(GetParam(), 4);
  auto out = make_objective(opd_config())->compute(c.in);
  auto s = at::log_softmax(c.logits.detach().to(at::kDouble), -1).gather(-1, c.in.targets.unsqueeze(-1)).squeeze(-1);
  auto on = ((c.in.source == 2).to(at::kDouble) * c.in.loss_mask.to(at::kDouble));
  const double n = on.sum().item<double>();
  auto lr = s - c.in.teacher_logprobs.to(at::kDouble);
  const double k1 = (lr * on).sum().item<double>() / n;
  const double k3 = (((-lr).exp() - 1 + lr) * on).sum().item<double>() / n;
  EXPECT_DOUBLE_EQ(out.metrics.value("tokens_student"), n);
  EXPECT_NEAR(out.metrics.value("kl_k1"), k1, 1e-5 * std::abs(k1) + 1e-6);
  EXPECT_NEAR(out.metrics.value("kl_k3"), k3, 1e-5 * std::abs(k3) + 1e-6);
  EXPECT_GE(out.metrics.value("kl_k3"), 0.0);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, OpdObjectiveTest, ::testing::Values(at::kFloat, at::kBFloat16),
                         [](const auto& info) { return info.param == at::kFloat ? "fp32" : "bf16"; });

TEST(ObjectiveRegistry, NamesRoundTripAndUnknownNameIsAnError) {
  EXPECT_EQ(objective_kind_from_name("opd", "objective.name"), ObjectiveKind::kOpd);
  EXPECT_EQ(make_objective(opd_config())->name(), "opd");
  try {
    objective_kind_from_name("opdd", "objective.name");
    FAIL() << "expected an error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find("objective.name must be one of"), std::string::npos);
  }
}

}  // namespace
}  // namespace opd
