// The CUDA paths of the fused ops against their CPU paths (themselves checked
// against double-precision references in the other op tests): values and
// gradients, fp32 and bf16, odd and real vocabularies, k = 1 and k = V,
// padded rows and strided views. Each test skips itself, saying why, where
// no CUDA device exists (CI, and every CPU-only LibTorch build).
#include "opd/ops/full_vocab_kl.h"
#include "opd/ops/linear_row_logprobs.h"
#include "opd/ops/sample_tokens.h"
#include "opd/ops/row_logprobs.h"
#include "opd/ops/teacher_topk.h"
#include "opd/ops/token_logprob.h"
#include "opd/ops/topk_forward_kl.h"
#include "opd/ops/counter_uniform.h"
#include "opd/ops/trust_mask.h"
#include "ops/padded_logits.h"
#include "support/test_support.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <limits>
#include <vector>

namespace opd::ops {
namespace {

using opd::testing::close;
using opd::testing::rel_err;

#define OPD_SKIP_WITHOUT_CUDA()                                                          \
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device (this build or machine is CPU-only)"

double value_tol(at::ScalarType) { return 2e-5; }
double parity_grad_tol(at::ScalarType dtype) { return dtype == at::kBFloat16 ? 1e-2 : 2e-5; }

// (value, d sum(w * value) / d logits) on `device`, returned on the CPU.
template <typename Fn>
std::pair<at::Tensor, at::Tensor> run_on(const at::Device& device, const at::Tensor& logits,
                                         const at::Tensor& w, Fn fn) {
  auto x = logits.to(device).detach().requires_grad_(true);
  auto value = fn(x);
  auto grad = torch::autograd::grad({(value * w.to(device)).sum()}, {x})[0];
  return {value.detach().cpu(), grad.cpu()};
}

class CudaParity : public ::testing::TestWithParam<at::ScalarType> {};

TEST_P(CudaParity, RowLogprobs_CUDA) {
  OPD_SKIP_WITHOUT_CUDA();
  struct Shape {
    int64_t rows, V, K;
  };
  for (const auto& s : {Shape{6, 37, 1}, Shape{5, 37, 37}, Shape{9, 4099, 65}, Shape{4, 151936, 65},
                        Shape{3, 32000, 0}}) {
    SCOPED_TRACE(::testing::Message() << "rows " << s.rows << " V " << s.V << " K " << s.K);
    auto logits = padded_logits(s.rows, s.V, GetParam(), s.V + s.K);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(s.K);
    auto ids = at::randint(s.V, {s.rows, s.K}, gen, at::kLong);
    if (s.K > 1) ids.select(1, 1).copy_(ids.select(1, 0));  // a repeated id
    auto w = at::randn({s.rows, s.K}, gen, at::kFloat);
    auto on = [&](const at::Device& d) {
      return run_on(d, logits, w, [&](const at::Tensor& x) { return row_logprobs(x, ids.to(d)).logp; });
    };
    auto [cpu, cpu_grad] = on(at::kCPU);
    auto [gpu, gpu_grad] = on(at::kCUDA);
    EXPECT_TRUE(close(gpu, cpu, value_tol(GetParam()), value_tol(GetParam())));
    if (s.K > 0) {
      EXPECT_LT(rel_err(gpu_grad, cpu_grad), parity_grad_tol(GetParam()));
    }
    auto h_cpu = softmax_entropy(logits), h_gpu = softmax_entropy(logits.cuda()).cpu();
    EXPECT_TRUE(close(h_gpu, h_cpu, 1e-5, 1e-5));
  }
}

// Aligned logits [B, T-1, V] of [B, T, V] and a vocabulary cut, in place on CUDA too.
TEST_P(CudaParity, StridedViews_CUDA) {
  OPD_SKIP_WITHOUT_CUDA();
  auto full = padded_logits(3 * 9, 1000, GetParam(), 4).view({3, 9, 1000});
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  auto targets = at::randint(990, {3, 8}, gen, at::kLong);
  auto on = [&](const at::Device& d) {
    auto x = full.to(d).detach().requires_grad_(true);
    auto logp = token_logprob(x.slice(1, 0, 8).slice(2, 0, 990), targets.to(d));
    auto grad = torch::autograd::grad({logp.sum()}, {x})[0];
    return std::make_pair(logp.detach().cpu(), grad.cpu());
  };
  auto [cpu, cpu_grad] = on(at::kCPU);
  auto [gpu, gpu_grad] = on(at::kCUDA);
  EXPECT_TRUE(close(gpu, cpu, 2e-5, 2e-5));
  EXPECT_LT(rel_err(gpu_grad, cpu_grad), parity_grad_tol(GetParam()));
}

// The chunked lm_head + log-probs: cuBLAS and the CUDA row kernels against
// the CPU, values and both gradients, at Qwen3's vocabulary and uneven chunks.
TEST_P(CudaParity, LinearRowLogprobs_CUDA) {
  OPD_SKIP_WITHOUT_CUDA();
  const auto dtype = GetParam();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(21);
  auto hidden = at::randn({3, 13, 64}, gen, at::kFloat).to(dtype);
  auto weight = (at::randn({151936, 64}, gen, at::kFloat) * 0.3).to(dtype);
  auto ids = at::randint(151936, {3, 13, 4}, gen, at::kLong);
  auto g = at::randn({3, 13, 4}, gen, at::kFloat);
  struct Out {
    at::Tensor logp, entropy, grad_hidden, grad_weight;
  };
  auto on = [&](const at::Device& d) {
    auto h = hidden.to(d).requires_grad_(true), w = weight.to(d).requires_grad_(true);
    auto out = linear_row_logprobs(h, w, ids.to(d), /*entropy=*/true, /*chunk_rows=*/16);
    auto grads = torch::autograd::grad({(out.logp * g.to(d)).sum()}, {h, w});
    return Out{out.logp.detach().cpu(), out.entropy.cpu(), grads[0].cpu(), grads[1].cpu()};
  };
  const auto cpu = on(at::kCPU), gpu = on(at::kCUDA);
  // bf16 logits are rounded after two different matmuls: within bf16's step.
  const double tol = dtype == at::kBFloat16 ? 5e-2 : 1e-4;
  EXPECT_TRUE(close(gpu.logp, cpu.logp, tol, tol));
  EXPECT_TRUE(close(gpu.entropy, cpu.entropy, tol, tol));
  EXPECT_LT(rel_err(gpu.grad_hidden, cpu.grad_hidden), 3 * parity_grad_tol(dtype));
  EXPECT_LT(rel_err(gpu.grad_weight, cpu.grad_weight), 3 * parity_grad_tol(dtype));
}

TEST_P(CudaParity, TopkForwardKl_CUDA) {
  OPD_SKIP_WITHOUT_CUDA();
  for (int64_t V : {37, 151936}) {
    const int64_t rows = 6, K = std::min<int64_t>(V, 64);
    auto student = padded_logits(rows, V, GetParam(), V);
    auto top = teacher_topk(padded_logits(rows, V, at::kFloat, V + 1), K);
    auto w = at::rand({rows});
    for (bool renormalize : {false, true}) {
      auto on = [&](const at::Device& d) {
        return run_on(d, student, w, [&](const at::Tensor& x) {
          return topk_forward_kl(x, top.ids.to(d), top.logp.to(d), renormalize);
        });
      };
      auto [cpu, cpu_grad] = on(at::kCPU);
      auto [gpu, gpu_grad] = on(at::kCUDA);
      EXPECT_TRUE(close(gpu, cpu, 1e-4, 1e-5)) << "V " << V << " renormalize " << renormalize;
      EXPECT_LT(rel_err(gpu_grad, cpu_grad), parity_grad_tol(GetParam())) << "V " << V;
    }
  }
}

TEST_P(CudaParity, FullVocabKl_CUDA) {
  OPD_SKIP_WITHOUT_CUDA();
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t V : {37, 32000}) {
    const int64_t rows = 7;
    auto student = padded_logits(rows, V, GetParam(), V);
    auto teacher = padded_logits(rows, V, GetParam(), V + 3).to(at::kFloat);
    teacher[0].slice(0, 0, 10).fill_(-inf);  // masked teacher tokens: p_T = 0
    teacher = teacher.to(GetParam());
    auto w = at::rand({rows});
    for (auto direction : {KlDirection::kForward, KlDirection::kReverse}) {
      auto on = [&](const at::Device& d) {
        return run_on(d, student, w, [&](const at::Tensor& x) {
          return full_vocab_kl(x, teacher.to(d), direction);
        });
      };
      auto [cpu, cpu_grad] = on(at::kCPU);
      auto [gpu, gpu_grad] = on(at::kCUDA);
      const bool forward = direction == KlDirection::kForward;
      if (forward) {
        EXPECT_TRUE(close(gpu, cpu, 1e-4, 2e-5)) << "V " << V;
        EXPECT_LT(rel_err(gpu_grad, cpu_grad), parity_grad_tol(GetParam())) << "V " << V;
      } else {  // row 0 is +inf (student mass where the teacher has none) on both
        EXPECT_TRUE(at::isinf(gpu[0]).item<bool>() && at::isinf(cpu[0]).item<bool>());
        EXPECT_TRUE(close(gpu.slice(0, 1), cpu.slice(0, 1), 1e-4, 2e-5)) << "V " << V;
        EXPECT_LT(rel_err(gpu_grad.slice(0, 1), cpu_grad.slice(0, 1)), parity_grad_tol(GetParam()));
      }
    }
  }
}

TEST_P(CudaParity, TeacherTopk_CUDA) {
  OPD_SKIP_WITHOUT_CUDA();
  struct Shape {
    int64_t rows, V, K;
  };
  for (const auto& s : {Shape{6, 37, 1}, Shape{6, 37, 37}, Shape{5, 151936, 64}, Shape{4, 32000, 1000},
                        Shape{3, 5000, 2000}}) {
    SCOPED_TRACE(::testing::Message() << "V " << s.V << " K " << s.K);
    auto logits = padded_logits(s.rows, s.V, GetParam(), s.V * 7 + s.K);
    auto cpu = teacher_topk(logits, s.K);
    auto gpu = teacher_topk(logits.cuda(), s.K);
    auto gpu_ids = gpu.ids.cpu(), gpu_logp = gpu.logp.cpu();
    EXPECT_TRUE(close(gpu_logp, cpu.logp, 2e-5, 2e-5));
    EXPECT_TRUE(close(gpu.entropy.cpu(), cpu.entropy, 1e-5, 1e-5));
    // Every returned id carries the log-prob returned with it, once per row, in
    // descending order (ties may order differently from the CPU's).
    auto all = at::log_softmax(logits.to(at::kDouble), -1);
    EXPECT_TRUE(close(gpu_logp, all.gather(1, gpu_ids), 2e-5, 2e-5));
    auto sorted = std::get<0>(gpu_ids.sort(1));
    EXPECT_TRUE((sorted.slice(1, 1) != sorted.slice(1, 0, s.K - 1)).all().item<bool>());
    EXPECT_TRUE((gpu_logp.slice(1, 0, s.K - 1) >= gpu_logp.slice(1, 1)).all().item<bool>());
    if (GetParam() == at::kFloat && s.K < s.V) {  // random fp32 rows: no ties at the top
      EXPECT_TRUE(at::equal(gpu_ids.slice(0, 0, s.rows - 2), cpu.ids.slice(0, 0, s.rows - 2)));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, CudaParity, ::testing::Values(at::kFloat, at::kBFloat16),
                         [](const auto& info) { return info.param == at::kFloat ? "fp32" : "bf16"; });

// The fused CUDA sampler draws what the CPU draws from the same uniforms (a
// uniform within rounding of a boundary may rarely fall either side), for
// each filter alone and together, bf16 and fp32, and Qwen3's vocabulary.
TEST(CudaParitySampling, SameTokensAsTheCpu_CUDA) {
  OPD_SKIP_WITHOUT_CUDA();
  const std::vector<SamplingParams> params = {
      {1.0, 0, 1.0, 0.0}, {0.7, 50, 0.9, 0.0}, {1.0, 0, 0.95, 0.05}, {0.0, 0, 1.0, 0.0}, {1.0, 1, 1.0, 0.0},
      {0.6, 20, 1.0, 0.0}, {1.0, 0, 0.5, 0.0}, {1.3, 0, 1.0, 0.1}};
  struct Case {
    int64_t rows, vocab;
    at::ScalarType dtype;
  };
  for (const Case c : {Case{512, 32000, at::kBFloat16}, Case{256, 32000, at::kFloat}, Case{64, 151936, at::kBFloat16}}) {
    auto logits = padded_logits(c.rows, c.vocab, c.dtype, 21);
    auto u = counter_uniform(at::arange(c.rows, at::kLong), 3, 0);
    for (const SamplingParams& p : params) {
      SCOPED_TRACE(::testing::Message() << c.rows << " x " << c.vocab << " T " << p.temperature << " top_k "
                                        << p.top_k << " top_p " << p.top_p << " min_p " << p.min_p);
      auto cpu = sample_tokens(logits, p, u);
      auto gpu = sample_tokens(logits.cuda(), p, u.cuda());
      EXPECT_LE((gpu.tokens.cpu() != cpu.tokens).sum().item<int64_t>(), 2);
      auto same = gpu.tokens.cpu() == cpu.tokens;
      EXPECT_TRUE(close(gpu.logprobs.cpu().masked_select(same), cpu.logprobs.masked_select(same), 1e-4, 1e-5));
    }
  }
}

// The same Philox bits on both devices: masks agree token for token.
TEST(CudaParityTrustMask, SameDrawsAsTheCpu_CUDA) {
  OPD_SKIP_WITHOUT_CUDA();
  const int64_t n = 100003;
  auto index = at::arange(n, at::kLong) * 7 + 3;
  auto log_ratio = at::rand({n}) * 6 - 5;
  log_ratio[0] = std::numeric_limits<float>::quiet_NaN();
  log_ratio[1] = -std::numeric_limits<float>::infinity();
  for (uint64_t seed : {uint64_t{0}, uint64_t{1234567890123ULL}}) {
    for (int64_t step : {int64_t{0}, int64_t{41}}) {
      EXPECT_TRUE(at::equal(counter_uniform(index.cuda(), seed, step).cpu(),
                            counter_uniform(index, seed, step)));
      auto cpu = trust_mask(log_ratio, index, seed, step);
      auto gpu = trust_mask(log_ratio.cuda(), index.cuda(), seed, step).cpu();
      EXPECT_TRUE(at::equal(gpu, cpu)) << (gpu != cpu).sum().item<int64_t>() << " differ";
      EXPECT_FALSE(gpu[0].item<bool>() || gpu[1].item<bool>());
    }
  }
}

}  // namespace
}  // namespace opd::ops
