// Rollout speed, in two modes.
//
// Without --model (the default): batched generation with the KV cache
// against generation that recomputes the whole sequence every step, on the
// same random model on the CPU. Checks first that greedy outputs agree token
// for token. Also times sampled generation (temperature 1, top-k 50, top-p
// 0.95, min-p 0.05) with the cache: the cost of the sampler op against greedy
// argmax.
//   build/bin/bench_rollout [--new-tokens 256] [--batch 8] [--prompt-tokens 16] [--layers 4]
//                           [--hidden 256] [--vocab 4096] [--repeats 3]
//
// With --model DIR: an HF model directory (e.g. one opd-make-tiny wrote)
// loaded onto --device in --dtype, every row generating exactly --new-tokens
// (no stop tokens), timed over --repeats runs after one warm-up; prints one
// JSON line (tokens/s of each run, peak memory) for a driver to read
// (benchmarks/bench_vs_transformers.py reads it beside transformers' generate).
//   build/bin/bench_rollout --model DIR [--device cpu|cuda|cuda:N] [--dtype float32|bfloat16]
//       [--batch 8] [--prompt-tokens 16 | --prompts IDS.safetensors] [--new-tokens 256]
//       [--sample] [--seed 1] [--repeats 3] [--tokens-out FILE] [--logits-out FILE]
// --prompts reads `input_ids` [R, P] int64 (the first --batch rows are used);
// --logits-out writes the logits [B, P, V] float32 of those prompts (the
// check the driver makes against transformers) and times nothing.
#include "bench_cli.h"
#include "median_timer.h"
#include "memory_meter.h"
#include "opd/core/cpu_allocator.h"
#include "opd/core/cpu_threads.h"
#include "opd/model/compute_dtype.h"
#include "opd/model/device.h"
#include "opd/model/model_config.h"
#include "opd/model/pretrained.h"
#include "opd/model/safetensors.h"
#include "opd/model/tiny_model.h"
#include "opd/rollout/generator.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace {

struct Args {
  int64_t new_tokens = 256, batch = 8, layers = 4, hidden = 256, vocab = 4096, prompt_tokens = 16, repeats = 3;
  std::string model, device = "cpu", dtype = "float32", prompts, tokens_out, logits_out;
  std::string malloc_setting;  // what keep_freed_cpu_memory() put in effect
  bool sample = false;
  uint64_t seed = 1;
};

std::vector<std::vector<int64_t>> random_prompts(int64_t batch, int64_t length, int64_t vocab) {
  std::vector<std::vector<int64_t>> prompts(static_cast<size_t>(batch));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  for (auto& p : prompts) {
    auto ids = at::randint(vocab - 1, {length}, gen, at::kLong);
    p.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + length);
  }
  return prompts;
}

// The first `batch` rows of the `input_ids` [R, P] int64 in `path`.
std::vector<std::vector<int64_t>> read_prompts(const std::string& path, int64_t batch, int64_t vocab) {
  const auto file = opd::model::read_safetensors(path);
  const auto it = file.tensors.find("input_ids");
  TORCH_CHECK(it != file.tensors.end(), "--prompts ", path, ": no tensor 'input_ids'");
  const auto ids = it->second.contiguous();
  TORCH_CHECK(ids.dim() == 2 && ids.scalar_type() == at::kLong, "--prompts ", path,
              ": expected input_ids [rows, length] int64, got ", ids.sizes(), " ", ids.scalar_type());
  TORCH_CHECK(ids.size(0) >= batch, "--prompts ", path, " holds ", ids.size(0), " prompts, --batch asks for ", batch);
  TORCH_CHECK(ids.numel() == 0 || (ids.min().item<int64_t>() >= 0 && ids.max().item<int64_t>() < vocab), "--prompts ",
              path, ": ids must lie in [0, ", vocab, ")");
  std::vector<std::vector<int64_t>> prompts(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* row = ids[b].data_ptr<int64_t>();
    prompts[static_cast<size_t>(b)].assign(row, row + ids.size(1));
  }
  return prompts;
}

int64_t peak_rss_bytes() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return int64_t{usage.ru_maxrss} * 1024;  // Linux reports KiB
}

// The random-model mode: cache against recompute on the CPU.
int run_random_model(const Args& a) {
  const int threads = opd::use_all_cpu_threads();
  opd::model::TinyModelSpec spec;
  spec.vocab_size = a.vocab;
  spec.hidden_size = a.hidden;
  spec.intermediate_size = a.hidden * 3;
  spec.num_hidden_layers = a.layers;
  spec.num_attention_heads = std::max<int64_t>(1, a.hidden / 32);
  spec.num_key_value_heads = std::max<int64_t>(1, a.hidden / 128);
  spec.head_dim = 32;
  spec.eos_token_id = a.vocab - 1;  // rarely drawn: rows run the full length
  auto model = opd::model::make_tiny_model(spec);
  model->eval();

  const auto prompts = random_prompts(a.batch, a.prompt_tokens, a.vocab);
  opd::rollout::GenerationConfig cfg;
  cfg.max_new_tokens = a.new_tokens;
  cfg.sampling.temperature = 0;  // greedy: both paths must agree exactly

  cfg.seed = a.seed;
  opd::RolloutBatch cached, recomputed;
  cfg.use_cache = true;
  const double t_cache = opd::bench::median_seconds([&] { cached = opd::rollout::generate(model, prompts, cfg); }, a.repeats);
  cfg.use_cache = false;
  const double t_full = opd::bench::median_seconds([&] { recomputed = opd::rollout::generate(model, prompts, cfg); }, 1);
  if (!at::equal(cached.tokens, recomputed.tokens)) {
    std::fprintf(stderr, "bench_rollout: cached and recomputed greedy outputs differ\n");
    return 1;
  }
  const double tokens = cached.response_lengths.sum().item<double>();
  auto sampling = cfg;
  sampling.use_cache = true;
  sampling.sampling = {1.0, 50, 0.95, 0.05};
  opd::RolloutBatch sampled;
  const double t_sampled =
      opd::bench::median_seconds([&] { sampled = opd::rollout::generate(model, prompts, sampling); }, a.repeats);
  const double sampled_tokens = sampled.response_lengths.sum().item<double>();
  std::printf("threads: %d\n", threads);
  std::printf("model: %lld layers, hidden %lld, vocab %lld | batch %lld, prompt %lld, new tokens %lld\n",
              (long long)a.layers, (long long)a.hidden, (long long)a.vocab, (long long)a.batch,
              (long long)a.prompt_tokens, (long long)a.new_tokens);
  std::printf("%-22s %10s %14s %10s\n", "path", "median s", "gen tokens/s", "ms/step");
  std::printf("%-22s %10.3f %14.0f %10.2f\n", "kv cache", t_cache, tokens / t_cache, 1e3 * t_cache / a.new_tokens);
  std::printf("%-22s %10.3f %14.0f %10.2f\n", "kv cache, sampled", t_sampled, sampled_tokens / t_sampled,
              1e3 * t_sampled / a.new_tokens);
  std::printf("%-22s %10.3f %14.0f %10.2f\n", "recompute (reference)", t_full, tokens / t_full, 1e3 * t_full / a.new_tokens);
  std::printf("speedup of the cache: %.1fx\n", t_full / t_cache);
  return 0;
}

// The HF-model mode: one JSON line.
int run_model_dir(const Args& a) {
  const int threads = opd::use_all_cpu_threads();
  const at::Device device = opd::model::resolve_device(a.device, 0, "--device");
  opd::model::LoadOptions load;
  load.dtype = opd::model::dtype_from_name(a.dtype, "--dtype");
  load.device = device;
  auto t0 = std::chrono::steady_clock::now();
  auto model = opd::model::load_pretrained(a.model, load);
  model->eval();
  opd::bench::synchronize(device);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t vocab = model->config().vocab_size;
  const auto prompts = a.prompts.empty() ? random_prompts(a.batch, a.prompt_tokens, vocab)
                                         : read_prompts(a.prompts, a.batch, vocab);
  const int64_t prompt_tokens = static_cast<int64_t>(prompts.front().size());
  at::NoGradGuard no_grad;
  nlohmann::json out = {{"engine", "opd"},         {"device", device.str()}, {"dtype", a.dtype},
                        {"batch", a.batch},        {"prompt_tokens", prompt_tokens},
                        {"threads", threads},      {"load_seconds", load_s}};

  if (!a.logits_out.empty()) {
    std::vector<int64_t> flat;
    for (const auto& p : prompts) flat.insert(flat.end(), p.begin(), p.end());
    const auto ids = at::tensor(flat, at::kLong).view({a.batch, prompt_tokens}).to(device);
    const auto mask = at::ones_like(ids);
    const auto logits = model->forward(ids, opd::model::position_ids_from_mask(mask), mask);
    opd::model::write_safetensors(a.logits_out, {{"logits", logits.to(at::kFloat).cpu().contiguous()}});
    out["logits_out"] = a.logits_out;
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }

  opd::rollout::GenerationConfig cfg;
  cfg.max_new_tokens = a.new_tokens;
  cfg.seed = a.seed;
  // No stop tokens: every row runs the full length, as generate() with eos
  // disabled does on the other side. Sampling is plain multinomial at T = 1.
  cfg.sampling = a.sample ? opd::rollout::SamplingParams{1.0, 0, 1.0, 0.0} : opd::rollout::SamplingParams{0.0, 0, 1.0, 0.0};
  opd::bench::MemoryMeter meter(device);
  meter.start();  // the weights are in the peak, as torch.cuda.max_memory_allocated counts them
  opd::RolloutBatch batch;
  const auto run = [&] {
    batch = opd::rollout::generate(model, prompts, cfg);
    opd::bench::synchronize(device);
  };
  run();  // warm-up: kernels, handles and the allocator's pool
  std::vector<double> seconds, tokens_per_s;
  for (int64_t r = 0; r < a.repeats; ++r) {
    t0 = std::chrono::steady_clock::now();
    run();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    const double generated = batch.response_lengths.sum().item<double>();
    tokens_per_s.push_back(generated / seconds.back());
  }
  const int64_t generated = batch.response_lengths.sum().item<int64_t>();
  TORCH_CHECK(generated == a.batch * a.new_tokens, "bench_rollout: generated ", generated, " tokens, expected ",
              a.batch * a.new_tokens, " (a row stopped early)");
  if (!a.tokens_out.empty()) opd::model::write_safetensors(a.tokens_out, {{"tokens", batch.tokens.cpu().contiguous()}});
  out["new_tokens"] = a.new_tokens;
  out["generated_tokens"] = generated;
  out["sample"] = a.sample;
  out["seconds"] = seconds;
  out["tokens_per_s"] = tokens_per_s;
  // CUDA: the caching allocator's peak bytes in use, weights included;
  // CPU: the process's peak resident set (what transformers' side reports too).
  out["peak_memory_bytes"] = device.is_cuda() ? meter.peak() : peak_rss_bytes();
  out["peak_memory_kind"] = device.is_cuda() ? "cuda_allocated" : "rss";
  out["malloc"] = a.malloc_setting;
  if (device.is_cuda()) out["peak_reserved_bytes"] = meter.peak_reserved();
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  a.malloc_setting = opd::bench::keep_freed_cpu_memory_or_exit("bench_rollout");
  CLI::App app{"Rollout speed: the KV cache against recomputation on a random model, or (--model) an HF "
               "model directory on a device, printed as one JSON line."};
  app.add_option("--new-tokens", a.new_tokens, "tokens generated per row")->check(opd::bench::at_least(1))->capture_default_str();
  app.add_option("--batch", a.batch, "rows generated together")->check(opd::bench::at_least(1))->capture_default_str();
  app.add_option("--prompt-tokens", a.prompt_tokens, "random prompt length (without --prompts)")
      ->check(opd::bench::at_least(1))->capture_default_str();
  app.add_option("--repeats", a.repeats, "timed runs (the median and spread are reported)")
      ->check(opd::bench::at_least(1))->capture_default_str();
  app.add_option("--seed", a.seed, "sampling seed")->capture_default_str();
  auto* layers = app.add_option("--layers", a.layers, "random model: decoder layers")->check(opd::bench::at_least(1))->capture_default_str();
  auto* hidden = app.add_option("--hidden", a.hidden, "random model: hidden size")->check(opd::bench::at_least(1))->capture_default_str();
  auto* vocab = app.add_option("--vocab", a.vocab, "random model: vocabulary")->check(opd::bench::at_least(2))
                    ->capture_default_str();
  auto* model = app.add_option("--model", a.model, "HF model directory: time it on --device instead")
                    ->check(CLI::ExistingDirectory);
  for (auto* o : {layers, hidden, vocab}) o->excludes(model);
  app.add_option("--device", a.device, "cpu, cuda, cuda:N or auto")->needs(model)->capture_default_str();
  app.add_option("--dtype", a.dtype, "compute dtype")
      ->check(CLI::IsMember(opd::config::choice_names<opd::model::ComputeDtype>()))
      ->needs(model)->capture_default_str();
  app.add_option("--prompts", a.prompts, "safetensors file with input_ids [rows, length] int64")
      ->check(CLI::ExistingFile)->needs(model);
  app.add_flag("--sample", a.sample, "sample at temperature 1 instead of greedy")->needs(model);
  app.add_option("--tokens-out", a.tokens_out, "write the last run's tokens [B, P + new] here")->needs(model);
  app.add_option("--logits-out", a.logits_out, "write the prompts' logits [B, P, V] float32 here and time nothing")
      ->needs(model);
  opd::bench::one_line_errors(app, "bench_rollout");
  CLI11_PARSE(app, argc, argv);
  try {
    return a.model.empty() ? run_random_model(a) : run_model_dir(a);
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "bench_rollout: error: %s\n", e.what_without_backtrace());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_rollout: error: %s\n", e.what());
  }
  return 1;
}
