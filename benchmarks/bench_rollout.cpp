// Rollout speed on the CPU: batched generation with the KV cache against
// generation that recomputes the whole sequence every step, on the same
// random model. Checks first that greedy outputs agree token for token. Also
// times sampled generation (temperature 1, top-k 50, top-p 0.95, min-p 0.05)
// with the cache: the cost of the sampler op against greedy argmax.
//   build/bin/bench_rollout [--new-tokens 256] [--batch 8] [--layers 4] [--hidden 256] [--vocab 4096]
#include "median_timer.h"
#include "opd/core/cpu_threads.h"
#include "opd/model/tiny_model.h"
#include "opd/rollout/generator.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

namespace {

struct Args {
  int64_t new_tokens = 256, batch = 8, layers = 4, hidden = 256, vocab = 4096, prompt = 16, repeats = 3;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const int64_t v = std::atoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--new-tokens")) a.new_tokens = v;
    else if (!std::strcmp(argv[i], "--batch")) a.batch = v;
    else if (!std::strcmp(argv[i], "--layers")) a.layers = v;
    else if (!std::strcmp(argv[i], "--hidden")) a.hidden = v;
    else if (!std::strcmp(argv[i], "--vocab")) a.vocab = v;
    else if (!std::strcmp(argv[i], "--repeats")) a.repeats = v;
    else { std::fprintf(stderr, "bench_rollout: unknown flag %s\n", argv[i]); std::exit(2); }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  const int threads = opd::use_all_cpu_threads();
  opd::model::TinyModelSpec spec;
  spec.vocab_size = a.vocab;
  spec.hidden_size = a.hidden;
  spec.intermediate_size = a.hidden * 3;
  spec.num_hidden_layers = a.layers;
  spec.num_attention_heads = a.hidden / 32;
  spec.num_key_value_heads = std::max<int64_t>(1, a.hidden / 128);
  spec.head_dim = 32;
  spec.eos_token_id = a.vocab - 1;  // rarely drawn: rows run the full length
  auto model = opd::model::make_tiny_model(spec);
  model->eval();

  std::vector<std::vector<int64_t>> prompts(a.batch);
  auto pgen = at::make_generator<at::CPUGeneratorImpl>(0);
  for (auto& p : prompts) {
    auto ids = at::randint(a.vocab - 1, {a.prompt}, pgen, at::kLong);
    p.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + a.prompt);
  }
  opd::rollout::GenerationConfig cfg;
  cfg.max_new_tokens = a.new_tokens;
  cfg.sampling.temperature = 0;  // greedy: both paths must agree exactly

  cfg.seed = 1;
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
              (long long)a.prompt, (long long)a.new_tokens);
  std::printf("%-22s %10s %14s %10s\n", "path", "median s", "gen tokens/s", "ms/step");
  std::printf("%-22s %10.3f %14.0f %10.2f\n", "kv cache", t_cache, tokens / t_cache, 1e3 * t_cache / a.new_tokens);
  std::printf("%-22s %10.3f %14.0f %10.2f\n", "kv cache, sampled", t_sampled, sampled_tokens / t_sampled,
              1e3 * t_sampled / a.new_tokens);
  std::printf("%-22s %10.3f %14.0f %10.2f\n", "recompute (reference)", t_full, tokens / t_full, 1e3 * t_full / a.new_tokens);
  std::printf("speedup of the cache: %.1fx\n", t_full / t_cache);
  return 0;
}
