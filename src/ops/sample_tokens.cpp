#include "opd/ops/sample_tokens.h"

#include "cuda_paths.h"
#include "logits_rows.h"
#include "opd/ops/aten_composition.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace opd::ops {
namespace {

// All three filters keep the tokens whose unnormalised probability
// e_v = exp((x_v - max) / T) is at least a threshold; each returns its own.

// The largest tau such that the tokens with e >= tau hold at least `target`
// of the mass (the top-p cut), by a weighted quickselect over `vals`.
float top_p_threshold(std::vector<float> vals, double target) {
  size_t lo = 0, hi = vals.size();
  double need = target;
  while (lo < hi) {
    const float pivot = vals[lo + (hi - lo) / 2];
    auto greater_end = std::partition(vals.begin() + lo, vals.begin() + hi, [&](float v) { return v > pivot; });
    auto equal_end = std::partition(greater_end, vals.begin() + hi, [&](float v) { return v == pivot; });
    double above = 0, equal = 0;
    for (auto it = vals.begin() + lo; it != greater_end; ++it) above += *it;
    for (auto it = greater_end; it != equal_end; ++it) equal += *it;
    if (above >= need && greater_end != vals.begin() + lo) {
      hi = static_cast<size_t>(greater_end - vals.begin());
    } else if (above + equal >= need) {
      return pivot;
    } else {
      need -= above + equal;
      lo = static_cast<size_t>(equal_end - vals.begin());
    }
  }
  // Rounding left a sliver of mass unaccounted: keep every candidate.
  return 0.0f;
}

void sample_cpu(const at::Tensor& logits, const SamplingParams& p, const at::Tensor& uniforms,
                SampledTokens& out) {
  const auto x = logits.to(at::kFloat).contiguous();
  const int64_t B = x.size(0), V = x.size(1);
  const float* data = x.data_ptr<float>();
  // e = exp((x - max) / T) of every row at once: ATen's exp is vectorised
  // for this CPU, where a loop of std::exp costs more than the rest of the
  // draw together.
  at::Tensor e_all;
  if (p.temperature != 0) {
    e_all = ((x - std::get<0>(x.max(1, /*keepdim=*/true))) / static_cast<float>(p.temperature)).exp().contiguous();
  }
  const float* e_data = p.temperature != 0 ? e_all.data_ptr<float>() : nullptr;
  const double* u = uniforms.data_ptr<double>();
  int64_t* tokens = out.tokens.data_ptr<int64_t>();
  float* logprobs = out.logprobs.data_ptr<float>();
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const float* row = data + b * V;
      const int64_t argmax = std::max_element(row, row + V) - row;
      if (p.temperature == 0) {
        tokens[b] = argmax;
        logprobs[b] = 0;
        continue;
      }
      const float* e = e_data + b * V;
      float t = 0;  // keep e >= t; e of the argmax is 1
      if (p.top_k > 0 && p.top_k < V) {
        std::vector<float> copy(e, e + V);
        std::nth_element(copy.begin(), copy.begin() + (p.top_k - 1), copy.end(), std::greater<float>());
        t = std::max(t, copy[static_cast<size_t>(p.top_k - 1)]);
      }
      if (p.top_p < 1) {
        std::vector<float> kept;
        double mass = 0;
        for (int64_t v = 0; v < V; ++v) {
          if (e[v] >= t && e[v] > 0) kept.push_back(e[v]), mass += e[v];
        }
        t = std::max(t, top_p_threshold(std::move(kept), p.top_p * mass));
      }
      if (p.min_p > 0) t = std::max(t, static_cast<float>(p.min_p));
      double mass = 0;
      for (int64_t v = 0; v < V; ++v) {
        if (e[v] >= t) mass += e[v];
      }
      const double target = u[b] * mass;
      double acc = 0;
      int64_t chosen = argmax;
      for (int64_t v = 0; v < V; ++v) {
        if (e[v] < t) continue;
        acc += e[v];
        chosen = v;
        if (acc > target) break;
      }
      tokens[b] = chosen;
      logprobs[b] = static_cast<float>(std::log(double(e[chosen]) / mass));
    }
  });
}

}  // namespace

void check_sampling_params(const SamplingParams& p) {
  TORCH_CHECK(p.temperature >= 0, "sampling: temperature must be >= 0, got ", p.temperature);
  TORCH_CHECK(p.top_k >= 0, "sampling: top_k must be >= 0, got ", p.top_k);
  TORCH_CHECK(p.top_p > 0 && p.top_p <= 1, "sampling: top_p must be in (0, 1], got ", p.top_p);
  TORCH_CHECK(p.min_p >= 0 && p.min_p < 1, "sampling: min_p must be in [0, 1), got ", p.min_p);
}

SampledTokens sample_tokens(const at::Tensor& logits, const SamplingParams& params, const at::Tensor& uniforms) {
  check_sampling_params(params);
  TORCH_CHECK(logits.dim() == 2 && at::isFloatingType(logits.scalar_type()),
              "sample_tokens: expected float logits [B, V], got ", logits.sizes(), " ", logits.scalar_type());
  TORCH_CHECK(uniforms.dim() == 1 && uniforms.size(0) == logits.size(0) && uniforms.scalar_type() == at::kDouble,
              "sample_tokens: expected float64 uniforms [", logits.size(0), "], got ", uniforms.sizes(), " ",
              uniforms.scalar_type());
  const int64_t B = logits.size(0);
  SampledTokens out{at::empty({B}, logits.options().dtype(at::kLong)),
                    at::empty({B}, logits.options().dtype(at::kFloat))};
  if (B == 0) return out;
  if (logits.is_cuda()) {
    if (params.temperature == 0) return aten_composition::sample_tokens(logits, params, uniforms);  // an argmax
    // One fused kernel per step: no sort of the vocabulary, no [B, V] temporaries.
    cuda::sample_tokens(logits_rows(logits, "sample_tokens"), params.temperature, params.top_k, params.top_p,
                        params.min_p, uniforms.to(logits.device()).contiguous(), out.tokens, out.logprobs);
  } else {
    sample_cpu(logits, params, uniforms.contiguous(), out);
  }
  return out;
}

at::Tensor sampling_distribution(const at::Tensor& logits, const SamplingParams& params) {
  check_sampling_params(params);
  TORCH_CHECK(logits.dim() == 2, "sampling_distribution: expected logits [B, V], got ", logits.sizes());
  TORCH_CHECK(params.temperature > 0, "sampling_distribution: greedy decoding has no distribution");
  auto x = logits.to(at::kDouble) / params.temperature;
  auto e = (x - std::get<0>(x.max(1, true))).exp();
  const int64_t V = x.size(1);
  auto keep = at::ones_like(e, at::kBool);
  if (params.top_k > 0 && params.top_k < V) keep &= e >= std::get<0>(e.topk(params.top_k, 1)).narrow(1, params.top_k - 1, 1);
  if (params.top_p < 1) {
    // Sorted descending: a token stays when the kept mass strictly above its
    // value is short of top_p (every tie of the cut stays).
    auto kept_e = e * keep;
    auto [sorted, order] = kept_e.sort(1, /*descending=*/true);
    auto before = sorted.cumsum(1) - sorted;
    auto total = kept_e.sum(1, true);
    auto cut_sorted = (before < params.top_p * total) & (sorted > 0);
    auto cut_value = std::get<0>(at::where(cut_sorted, sorted, at::full_like(sorted, INFINITY)).min(1, true));
    keep &= e >= cut_value;
  }
  if (params.min_p > 0) keep &= e >= params.min_p;
  auto p = e * keep;
  return (p / p.sum(1, true)).to(at::kFloat);
}

}  // namespace opd::ops
