// The student's lm_head + log-prob pass two ways, in the same run: whole
// (logits = hidden @ W^T as one [N, V] tensor, then the fused row_logprobs,
// as with train.logits_chunk_tokens: 0) and chunked (ops/linear_row_logprobs,
// the trainer's default). It first checks that both give the same log-probs
// and gradients, then prints, for forward + backward, the median time and the
// peak memory above the inputs, and chunked/whole ratios of both.
//   build/bin/bench_lm_head_loss [--device cpu|cuda|cuda:N] [--rows 2048] [--vocab 151936]
//       [--hidden 1024] [--k 65] [--dtype bf16|fp32] [--chunk-rows 1024,4096] [--repeats 3] [--json]
#include "bench_cli.h"
#include "median_timer.h"
#include "memory_meter.h"
#include "opd/core/cpu_allocator.h"
#include "opd/core/cpu_threads.h"
#include "opd/model/device.h"
#include "opd/ops/linear_row_logprobs.h"
#include "opd/ops/row_logprobs.h"

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace {

using opd::bench::MemoryMeter;
using opd::bench::synchronize;

struct Args {
  std::string device = "cpu";
  int64_t rows = 2048, vocab = 151936, hidden = 1024, k = 65, repeats = 3;
  std::string dtype = "bf16";
  std::vector<int64_t> chunk_rows = {1024};
  bool json = false;
};

struct Inputs {
  at::Tensor hidden, weight, ids, g;
};

// One forward + backward; returns (logp, grad hidden, grad weight).
using Pass = std::function<std::vector<at::Tensor>(const Inputs&)>;

Pass whole_pass() {
  return [](const Inputs& in) {
    auto logp = opd::ops::row_logprobs(at::mm(in.hidden, in.weight.t()), in.ids).logp;
    auto grads = torch::autograd::grad({(logp * in.g).sum()}, {in.hidden, in.weight});
    return std::vector<at::Tensor>{logp.detach(), grads[0], grads[1]};
  };
}

Pass chunked_pass(int64_t chunk_rows) {
  return [chunk_rows](const Inputs& in) {
    auto logp = opd::ops::linear_row_logprobs(in.hidden, in.weight, in.ids, false, chunk_rows).logp;
    auto grads = torch::autograd::grad({(logp * in.g).sum()}, {in.hidden, in.weight});
    return std::vector<at::Tensor>{logp.detach(), grads[0], grads[1]};
  };
}

double rel_err(const at::Tensor& a, const at::Tensor& b) {
  auto x = a.to(at::kDouble), y = b.to(at::kDouble);
  return ((x - y).norm() / y.norm().clamp_min(1e-30)).item<double>();
}

struct Measured {
  double seconds = 0;
  int64_t peak_bytes = 0;
};

Measured measure(const Pass& pass, const Inputs& in, const at::Device& device, int64_t repeats) {
  pass(in);  // warm-up: kernels, allocator
  synchronize(device);
  MemoryMeter meter(device);
  meter.start();
  const double s = opd::bench::median_seconds(
      [&] {
        pass(in);
        synchronize(device);
      },
      repeats);
  return {s, meter.peak_extra()};
}

}  // namespace

int main(int argc, char** argv) {
  opd::bench::keep_freed_cpu_memory_or_exit("bench_lm_head_loss");
  Args a;
  CLI::App app{"The lm_head + log-prob pass, whole logits against chunks (ops/linear_row_logprobs)"};
  opd::bench::one_line_errors(app, "bench_lm_head_loss");
  app.add_option("--device", a.device, "cpu, cuda or cuda:N");
  app.add_option("--rows", a.rows, "tokens N")->check(opd::bench::at_least(1));
  app.add_option("--vocab", a.vocab, "vocabulary V")->check(opd::bench::at_least(2));
  app.add_option("--hidden", a.hidden, "hidden size H")->check(opd::bench::at_least(1));
  app.add_option("--k", a.k, "log-probs gathered per row (sampled token + teacher top-k)")->check(opd::bench::at_least(1));
  app.add_option("--dtype", a.dtype, "bf16 or fp32")->check(CLI::IsMember({"bf16", "fp32"}));
  app.add_option("--chunk-rows", a.chunk_rows, "comma-separated chunk sizes, e.g. 1024,4096")
      ->delimiter(',')
      ->check(opd::bench::at_least(1));
  app.add_option("--repeats", a.repeats, "timed runs (median)")->check(opd::bench::at_least(1));
  app.add_flag("--json", a.json, "one JSON line instead of the table");
  CLI11_PARSE(app, argc, argv);
  opd::use_all_cpu_threads();
  const at::Device device = opd::model::resolve_device(a.device, 0, "--device");
  const auto dtype = a.dtype == "bf16" ? at::kBFloat16 : at::kFloat;

  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  const auto on = at::TensorOptions().device(device);
  Inputs in;
  in.hidden = at::randn({a.rows, a.hidden}, gen, at::kFloat).to(on.dtype(dtype)).requires_grad_(true);
  in.weight = (at::randn({a.vocab, a.hidden}, gen, at::kFloat) / std::sqrt(static_cast<double>(a.hidden)))
                  .to(on.dtype(dtype))
                  .requires_grad_(true);
  in.ids = at::randint(a.vocab, {a.rows, a.k}, gen, at::kLong).to(device);
  in.g = at::randn({a.rows, a.k}, gen, at::kFloat).to(device);

  const auto whole = whole_pass();
  const auto expected = whole(in);
  const double grad_tol = dtype == at::kBFloat16 ? 2e-2 : 1e-4;
  const auto whole_m = measure(whole, in, device, a.repeats);
  const double logits_gb = static_cast<double>(a.rows) * a.vocab * in.weight.element_size() / 1e9;

  nlohmann::json report = {{"device", device.str()}, {"dtype", a.dtype}, {"rows", a.rows}, {"vocab", a.vocab},
                           {"hidden", a.hidden}, {"logits_gb", logits_gb},
                           {"whole", {{"seconds", whole_m.seconds}, {"peak_gb", whole_m.peak_bytes / 1e9}}}};
  if (!a.json) {
    std::printf("bench_lm_head_loss: %s %s, N %lld x V %lld, H %lld (one [N, V] logits tensor: %.2f GB), "
                "forward + backward, median of %lld\n",
                device.str().c_str(), a.dtype.c_str(), static_cast<long long>(a.rows),
                static_cast<long long>(a.vocab), static_cast<long long>(a.hidden), logits_gb,
                static_cast<long long>(a.repeats));
    std::printf("  %-16s %10s %12s %12s %12s\n", "pass", "time ms", "peak GB", "time ratio", "peak ratio");
    std::printf("  %-16s %10.2f %12.3f %12s %12s\n", "whole", whole_m.seconds * 1e3, whole_m.peak_bytes / 1e9, "1.00",
                "1.00");
  }
  bool ok = true;
  for (int64_t chunk : a.chunk_rows) {
    const auto pass = chunked_pass(chunk);
    const auto got = pass(in);
    const double logp_err = (got[0] - expected[0]).abs().max().item<double>();
    const double gh = rel_err(got[1], expected[1]), gw = rel_err(got[2], expected[2]);
    const bool agree = logp_err < 1e-3 && gh < grad_tol && gw < grad_tol;
    ok = ok && agree;
    const auto m = measure(pass, in, device, a.repeats);
    const std::string name = "chunks of " + std::to_string(chunk);
    report["chunked"].push_back({{"chunk_rows", chunk}, {"seconds", m.seconds}, {"peak_gb", m.peak_bytes / 1e9},
                                 {"time_ratio", m.seconds / whole_m.seconds},
                                 {"peak_ratio", static_cast<double>(m.peak_bytes) / whole_m.peak_bytes},
                                 {"agrees", agree}});
    if (!a.json) {
      std::printf("  %-16s %10.2f %12.3f %12.2f %12.2f%s\n", name.c_str(), m.seconds * 1e3, m.peak_bytes / 1e9,
                  m.seconds / whole_m.seconds, static_cast<double>(m.peak_bytes) / whole_m.peak_bytes,
                  agree ? "" : "  DISAGREES with the whole pass");
    }
    if (!agree) {
      std::fprintf(stderr, "bench_lm_head_loss: chunks of %lld disagree: max |d logp| %.2e, grad rel err hidden %.2e weight %.2e\n",
                   static_cast<long long>(chunk), logp_err, gh, gw);
    }
  }
  if (a.json) std::printf("%s\n", report.dump().c_str());
  return ok ? 0 : 1;
}
