// The fused distillation ops against the plain ATen compositions they
// replace (ops/aten_composition.h), in the same run: for each op, shape and
// dtype it first checks that both give the same values and gradients, then
// prints the median time, the compulsory bytes (logits read once, gradient
// written once) and the GB/s they imply, the peak extra memory, and the
// fused/composition ratios. Before each shape's ops, a "copy" line times a
// plain device copy of the logits: the "of copy" column is each op's GB/s
// over it, the fraction of the memory bandwidth reached in this run.
//   build/bin/bench_distill_ops [--device cpu|cuda|cuda:N] [--rows 1024,8192]
//       [--vocab 32000,151936] [--k 64] [--dtypes bf16,fp32] [--repeats 5]
//       [--ops k1,topk_fkl,tropd,full_kl,teacher_topk] [--max-memory-gb G]
// Where the composition would need more than --max-memory-gb (default: 90%
// of the memory free at that point), only the fused op is timed, and the
// line says so.
#include "bench_cli.h"
#include "median_timer.h"
#include "memory_meter.h"
#include "opd/core/cpu_allocator.h"
#include "opd/core/cpu_threads.h"
#include "opd/model/device.h"
#include "opd/ops/aten_composition.h"
#include "opd/ops/full_vocab_kl.h"
#include "opd/ops/row_logprobs.h"
#include "opd/ops/teacher_topk.h"
#include "opd/ops/token_logprob.h"
#include "opd/ops/topk_forward_kl.h"
#include "opd/ops/trust_mask.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>

#if OPD_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

using opd::bench::synchronize;
using opd::ops::KlDirection;

struct Args {
  std::string device = "cpu";
  std::vector<int64_t> rows = {1024};
  std::vector<int64_t> vocab = {32000, 151936};
  int64_t k = 64;
  std::vector<std::string> dtypes = {"bf16", "fp32"};
  int64_t repeats = 5;
  std::vector<std::string> ops = {"k1", "topk_fkl", "tropd", "full_kl", "teacher_topk"};
  double max_memory_gb = 0;  // the composition is skipped above this; 0 = 90% of what is free
};

// What one side of a comparison computes: a value and (for differentiable
// ops) the gradient of sum(weight * value) with respect to the logits.
struct Output {
  at::Tensor value, grad;
};
using Side = std::function<Output()>;

struct Measure {
  double ms = 0;
  int64_t peak_bytes = 0;
};

Measure measure(const Side& side, const at::Device& device, int64_t repeats) {
  Measure m;
  opd::bench::MemoryMeter meter(device.is_cuda());
  synchronize(device);
  meter.start();
  { auto warm = side(); synchronize(device); }
  m.peak_bytes = meter.peak_extra();
  m.ms = 1e3 * opd::bench::median_seconds([&] {
    auto out = side();
    synchronize(device);
  }, repeats);
  return m;
}

// On the tensors' device: copying [8192, 151936] gradients to the host in
// double would take longer than the whole benchmark.
double rel_err(const at::Tensor& a, const at::Tensor& b) {
  auto x = a.to(at::kDouble), y = b.to(at::kDouble);
  return (x - y).norm().item<double>() / std::max(y.norm().item<double>(), 1e-30);
}

// Memory free for the composition now: MemAvailable on the CPU, free memory
// on the GPU.
double free_memory_bytes(const at::Device& device) {
#if OPD_WITH_CUDA
  if (device.is_cuda()) {
    size_t free = 0, total = 0;
    cudaMemGetInfo(&free, &total);
    return double(free);
  }
#endif
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kb = 0;
  while (meminfo >> key >> kb) {
    if (key == "MemAvailable:") return kb * 1024.0;
    meminfo.ignore(256, '\n');
  }
  return double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
}

// What a plain device copy of a tensor the size of `like` moves, in bytes per
// second (each byte read once and written once): the ceiling that a pass
// over the logits can reach on this device, measured in this run.
double copy_bandwidth(const at::Tensor& like, int64_t repeats) {
  auto dst = at::empty_like(like);
  dst.copy_(like);  // warm-up
  synchronize(like.device());
  const double s = opd::bench::median_seconds([&] {
    dst.copy_(like);
    synchronize(like.device());
  }, std::max<int64_t>(repeats, 5));
  return 2.0 * double(like.numel()) * double(like.element_size()) / s;
}

struct Inputs {
  at::Tensor logits, teacher_logits;  // [N, V]
  at::Tensor targets;                 // [N]
  at::Tensor topk_ids, topk_logp;     // [N, K] the teacher's top-k
  at::Tensor tau;                     // [N] teacher log-prob of the target
  at::Tensor weight;                  // [N] token weights (1 / N)
  at::Tensor token_index;             // [N]
};

Inputs make_inputs(int64_t N, int64_t V, int64_t K, at::ScalarType dtype, const at::Device& device) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
  Inputs in;
  const auto options = at::TensorOptions().device(device);
  in.logits = at::empty({N, V}, options.dtype(dtype));
  in.teacher_logits = at::empty({N, V}, options.dtype(dtype));
  // Row blocks, so no fp32 [N, V] temporary exists: the teacher is the
  // student plus noise, as after some distillation. On a GPU they are drawn
  // there (seeded): the CPU's serial normal draws would take tens of seconds
  // at N = 8192, V = 151936.
  if (device.is_cuda()) at::manual_seed(1234);
  for (int64_t b = 0; b < N; b += 512) {
    const int64_t e = std::min(N, b + 512);
    auto draw = [&] {
      return device.is_cuda() ? at::randn({e - b, V}, options.dtype(at::kFloat)) : at::randn({e - b, V}, gen, at::kFloat);
    };
    auto student = draw() * 2;
    in.logits.slice(0, b, e).copy_(student);
    in.teacher_logits.slice(0, b, e).copy_(student + draw());
  }
  auto top = opd::ops::teacher_topk(in.teacher_logits, K);
  in.topk_ids = top.ids;
  in.topk_logp = top.logp;
  in.targets = at::randint(V, {N}, gen, at::kLong).to(device);
  in.tau = opd::ops::token_logprob(in.teacher_logits, in.targets);
  in.weight = at::full({N}, 1.0 / double(N), options.dtype(at::kFloat));
  in.token_index = at::arange(N, options.dtype(at::kLong));
  return in;
}

Output with_grad(const at::Tensor& logits, const std::function<at::Tensor(const at::Tensor&)>& fn,
                 const at::Tensor& weight) {
  auto x = logits.detach().requires_grad_(true);
  auto value = fn(x);
  auto loss = value.dim() > 0 ? (value * weight).sum() : value;
  return {value.detach(), torch::autograd::grad({loss}, {x})[0]};
}

// TrOPD's student side: K1 on trusted tokens, top-k FKL on the others, the
// Bernoulli trust mask from tau - s, and the entropy the objective reports.
Output tropd_fused(const Inputs& in) {
  auto x = in.logits.detach().requires_grad_(true);
  auto ids = at::cat({in.targets.unsqueeze(1), in.topk_ids}, 1);
  auto rows = opd::ops::row_logprobs(x, ids, /*entropy=*/true);
  auto s = rows.logp.select(1, 0);
  auto fkl = opd::ops::forward_kl_on_support(rows.logp.narrow(1, 1, in.topk_ids.size(1)), in.topk_logp);
  auto log_ratio = (in.tau - s).detach();
  auto trusted = opd::ops::trust_mask(log_ratio, in.token_index, 7, 3).to(at::kFloat);
  auto loss = (-(log_ratio * s) * in.weight * trusted).sum() + (fkl * in.weight * (1 - trusted)).sum();
  return {loss.detach(), torch::autograd::grad({loss}, {x})[0]};
}

Output tropd_composed(const Inputs& in) {
  auto x = in.logits.detach().requires_grad_(true);
  auto logp = at::log_softmax(x.to(at::kFloat), -1);
  auto s = logp.gather(1, in.targets.unsqueeze(1)).squeeze(1);
  auto p_t = in.topk_logp.exp();
  auto fkl = (p_t * (in.topk_logp - logp.gather(1, in.topk_ids))).sum(1);
  auto entropy = -(logp.exp() * logp).sum(1);
  auto log_ratio = (in.tau - s).detach();
  auto trusted = opd::ops::trust_mask(log_ratio, in.token_index, 7, 3).to(at::kFloat);
  auto loss = (-(log_ratio * s) * in.weight * trusted).sum() + (fkl * in.weight * (1 - trusted)).sum();
  auto grad = torch::autograd::grad({loss}, {x})[0];
  (void)entropy.sum().item<float>();  // the diagnostic the objective reports
  return {loss.detach(), grad};
}

struct Case {
  std::string op;
  Side fused, composed;
  double bytes;      // compulsory: logits (and teacher logits) read once, gradient written once
  bool differentiable;
  // fp32 [N, V] tensors the composition holds at its peak (measured at
  // N = 1024, V = 151936, rounded up), to skip it where it cannot fit.
  double aten_fp32_copies;
};

std::vector<Case> cases(const Args& a, const Inputs& in) {
  const double logits_bytes = double(in.logits.numel()) * double(in.logits.element_size());
  std::vector<Case> out;
  auto target_ids = in.targets.unsqueeze(1);
  for (const auto& op : a.ops) {
    if (op == "k1") {
      out.push_back({op,
                     [&in, target_ids] { return with_grad(in.logits, [&](const at::Tensor& x) { return opd::ops::token_logprob(x, in.targets); }, in.weight); },
                     [&in, target_ids] { return with_grad(in.logits, [&](const at::Tensor& x) { return opd::ops::aten_composition::gather_logprobs(x, target_ids).squeeze(1); }, in.weight); },
                     2 * logits_bytes, true, 3.5});
    } else if (op == "topk_fkl") {
      out.push_back({op,
                     [&in] { return with_grad(in.logits, [&](const at::Tensor& x) { return opd::ops::topk_forward_kl(x, in.topk_ids, in.topk_logp, false); }, in.weight); },
                     [&in] { return with_grad(in.logits, [&](const at::Tensor& x) { return opd::ops::aten_composition::topk_forward_kl(x, in.topk_ids, in.topk_logp, false); }, in.weight); },
                     2 * logits_bytes, true, 3.5});
    } else if (op == "tropd") {
      out.push_back({op, [&in] { return tropd_fused(in); }, [&in] { return tropd_composed(in); },
                     2 * logits_bytes, true, 5.5});
    } else if (op == "full_kl") {
      out.push_back({op,
                     [&in] { return with_grad(in.logits, [&](const at::Tensor& x) { return opd::ops::full_vocab_kl(x, in.teacher_logits, KlDirection::kForward); }, in.weight); },
                     [&in] { return with_grad(in.logits, [&](const at::Tensor& x) { return opd::ops::aten_composition::full_vocab_kl(x, in.teacher_logits, KlDirection::kForward); }, in.weight); },
                     3 * logits_bytes, true, 10.5});
    } else if (op == "teacher_topk") {
      const int64_t k = a.k;
      out.push_back({op,
                     [&in, k] { auto t = opd::ops::teacher_topk(in.teacher_logits, k); return Output{t.logp, t.entropy}; },
                     [&in, k] { auto t = opd::ops::aten_composition::teacher_topk(in.teacher_logits, k); return Output{t.logp, t.entropy}; },
                     logits_bytes, false, 5.5});
    } else {
      std::fprintf(stderr, "bench_distill_ops: unknown op %s\n", op.c_str());
      std::exit(2);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  opd::bench::keep_freed_cpu_memory_or_exit("bench_distill_ops");
  Args a;
  CLI::App app{"The fused distillation ops against the ATen compositions they replace: values, gradients, time, "
               "bytes and memory, per op, shape and dtype."};
  app.add_option("--device", a.device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  app.add_option("--rows", a.rows, "rows (tokens), comma-separated")->delimiter(',')->check(opd::bench::at_least(1))
      ->capture_default_str();
  app.add_option("--vocab", a.vocab, "vocabulary sizes, comma-separated")->delimiter(',')
      ->check(opd::bench::at_least(2))->capture_default_str();
  app.add_option("--k", a.k, "teacher top-k")->check(opd::bench::at_least(1))->capture_default_str();
  app.add_option("--dtypes", a.dtypes, "logits dtypes")->delimiter(',')->check(CLI::IsMember({"bf16", "fp32"}))
      ->capture_default_str();
  app.add_option("--repeats", a.repeats, "timed runs")->check(opd::bench::at_least(1))->capture_default_str();
  app.add_option("--ops", a.ops, "ops to time")->delimiter(',')
      ->check(CLI::IsMember({"k1", "topk_fkl", "tropd", "full_kl", "teacher_topk"}))->capture_default_str();
  app.add_option("--max-memory-gb", a.max_memory_gb, "skip the composition above this; 0 = 90% of what is free")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  opd::bench::one_line_errors(app, "bench_distill_ops");
  CLI11_PARSE(app, argc, argv);
  const int threads = opd::use_all_cpu_threads();
  at::Device device = at::kCPU;
  try {
    device = opd::model::resolve_device(a.device, 0, "--device");
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "bench_distill_ops: %s\n", e.what_without_backtrace());
    return 2;
  }
#if OPD_WITH_CUDA
  if (device.is_cuda() && device.has_index()) c10::cuda::set_device(device.index());  // cudaMemGetInfo's device
#endif
  if (!device.is_cuda()) opd::bench::CountingCpuAllocator::install();
  std::printf("bench_distill_ops: device %s (%d CPU threads), k %lld, median of %lld runs\n",
              a.device.c_str(), threads, static_cast<long long>(a.k), static_cast<long long>(a.repeats));
  // Memory: peak bytes allocated above the inputs, the gradient output (which
  // both sides must write) included; "work" leaves the gradient out.
  // "of copy": the fused op's GB/s over a plain copy of the logits measured
  // just before it (the "copy" line of each shape), the fraction of the
  // achievable memory bandwidth it reaches.
  std::printf("%-13s %6s %7s %5s | %9s %9s %6s | %9s %8s %7s | %9s %9s %6s | %9s %9s | %s\n", "op",
              "N", "V", "dtype", "fused ms", "aten ms", "speed", "bytes MB", "GB/s", "of copy", "fused MB",
              "aten MB", "mem", "fused wrk", "aten wrk", "check (rel err value / grad)");
  bool all_ok = true;
  for (const auto& dtype_name : a.dtypes) {
    const auto dtype = dtype_name == "fp32" ? at::kFloat : at::kBFloat16;
    const double tol = dtype == at::kFloat ? 1e-4 : 2e-2;
    for (int64_t N : a.rows) {
      for (int64_t V : a.vocab) {
        const auto in = make_inputs(N, V, a.k, dtype, device);
        const double copy_bps = copy_bandwidth(in.logits, a.repeats);
        std::printf("%-13s %6lld %7lld %5s | %9.2f %9s %6s | %9.0f %8.1f %7s |\n", "copy", static_cast<long long>(N),
                    static_cast<long long>(V), dtype_name.c_str(),
                    2e3 * double(in.logits.numel()) * double(in.logits.element_size()) / copy_bps, "-", "-",
                    2e-6 * double(in.logits.numel()) * double(in.logits.element_size()), copy_bps / 1e9, "1.00");
        for (const auto& c : cases(a, in)) {
          const double aten_need = c.aten_fp32_copies * double(N) * double(V) * 4.0;
          const double memory_limit =
              a.max_memory_gb > 0 ? a.max_memory_gb * 1e9 : 0.9 * free_memory_bytes(device);
          if (aten_need > memory_limit) {
            const auto mf = measure(c.fused, device, a.repeats);
            std::printf("%-13s %6lld %7lld %5s | %9.2f %9s %6s | %9.0f %8.1f %7.2f | %9.1f   (aten skipped: needs ~%.0f GB, limit %.0f GB)\n",
                        c.op.c_str(), static_cast<long long>(N), static_cast<long long>(V),
                        dtype_name.c_str(), mf.ms, "-", "-", c.bytes / 1e6, c.bytes / (mf.ms * 1e6),
                        c.bytes / (mf.ms * 1e-3) / copy_bps, mf.peak_bytes / 1e6, aten_need / 1e9, memory_limit / 1e9);
            std::fflush(stdout);
            continue;
          }
          // Check first: both sides compute the same function on these inputs.
          auto f = c.fused(), p = c.composed();
          const double err_value = rel_err(f.value, p.value);
          const double err_grad = f.grad.defined() ? rel_err(f.grad, p.grad) : 0.0;
          const bool ok = err_value < tol && err_grad < tol;
          all_ok = all_ok && ok;
          f = Output{};
          p = Output{};
          const auto mf = measure(c.fused, device, a.repeats);
          const auto mp = measure(c.composed, device, a.repeats);
          const double grad_bytes =
              c.differentiable ? double(in.logits.numel()) * double(in.logits.element_size()) : 0.0;
          std::printf("%-13s %6lld %7lld %5s | %9.2f %9.2f %5.1fx | %9.0f %8.1f %7.2f | %9.1f %9.1f %5.1fx | %9.1f %9.1f | %s %.1e / %.1e\n",
                      c.op.c_str(), static_cast<long long>(N), static_cast<long long>(V),
                      dtype_name.c_str(), mf.ms, mp.ms, mp.ms / mf.ms, c.bytes / 1e6,
                      c.bytes / (mf.ms * 1e6), c.bytes / (mf.ms * 1e-3) / copy_bps, mf.peak_bytes / 1e6,
                      mp.peak_bytes / 1e6,
                      double(mp.peak_bytes) / double(std::max<int64_t>(mf.peak_bytes, 1)),
                      (mf.peak_bytes - grad_bytes) / 1e6, (mp.peak_bytes - grad_bytes) / 1e6,
                      ok ? "ok" : "MISMATCH", err_value, err_grad);
          std::fflush(stdout);
        }
      }
    }
  }
  return all_ok ? 0 : 1;
}
