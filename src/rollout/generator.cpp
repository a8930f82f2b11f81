#include "opd/rollout/generator.h"

#include "opd/model/cpu_packed_linear.h"
#include "opd/model/kv_cache.h"
#include "opd/ops/counter_uniform.h"
#include "opd/rollout/sequence_packing.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>

namespace opd::rollout {
namespace {

// Prompts right-padded into [B, Tp] ids and mask.
std::pair<at::Tensor, at::Tensor> pad_prompts(const std::vector<std::vector<int64_t>>& prompts, int64_t pad) {
  const int64_t B = static_cast<int64_t>(prompts.size());
  int64_t Tp = 0;
  for (const auto& p : prompts) Tp = std::max<int64_t>(Tp, static_cast<int64_t>(p.size()));
  auto ids = at::full({B, Tp}, pad, at::kLong);
  auto mask = at::zeros({B, Tp}, at::kLong);
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[b];
    TORCH_CHECK(!p.empty(), "generate: prompt ", b, " is empty");
    const int64_t L = static_cast<int64_t>(p.size());
    ids[b].slice(0, 0, L).copy_(at::tensor(p, at::kLong));
    mask[b].slice(0, 0, L).fill_(1);
  }
  return {ids, mask};
}

// Whether a row's response so far ends with a stop token or stop sequence.
bool ends_with_stop(const std::vector<int64_t>& response, const GenerationConfig& c) {
  const int64_t last = response.back();
  if (std::find(c.stop_token_ids.begin(), c.stop_token_ids.end(), last) != c.stop_token_ids.end()) return true;
  for (const auto& seq : c.stop_sequences) {
    if (!seq.empty() && seq.size() <= response.size() &&
        std::equal(seq.rbegin(), seq.rend(), response.rbegin())) {
      return true;
    }
  }
  return false;
}

}  // namespace

RolloutBatch generate(model::CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                      const GenerationConfig& config) {
  TORCH_CHECK(!prompts.empty(), "generate: no prompts");
  TORCH_CHECK(config.max_new_tokens > 0, "generate: max_new_tokens must be > 0, got ", config.max_new_tokens);
  TORCH_CHECK(config.vocab_limit >= 0, "generate: vocab_limit must be >= 0, got ", config.vocab_limit);
  ops::check_sampling_params(config.sampling);
  const int64_t B = static_cast<int64_t>(prompts.size());
  TORCH_CHECK(config.row_max_new_tokens.empty() || static_cast<int64_t>(config.row_max_new_tokens.size()) == B,
              "generate: ", config.row_max_new_tokens.size(), " per-row caps for ", B, " prompts");
  TORCH_CHECK(config.row_ids.empty() || static_cast<int64_t>(config.row_ids.size()) == B, "generate: ",
              config.row_ids.size(), " row ids for ", B, " prompts");
  const auto identity = config.row_ids.empty() ? at::arange(config.first_row, config.first_row + B, at::kLong)
                                               : at::tensor(config.row_ids, at::kLong);
  std::vector<int64_t> cap(static_cast<size_t>(B), config.max_new_tokens);
  for (int64_t b = 0; b < B; ++b) {
    if (!config.row_max_new_tokens.empty()) {
      cap[b] = config.row_max_new_tokens[b];
      TORCH_CHECK(cap[b] >= 0 && cap[b] <= config.max_new_tokens, "generate: row ", b, " cap ", cap[b],
                  " is outside [0, max_new_tokens = ", config.max_new_tokens, "]");
    }
    const int64_t need = static_cast<int64_t>(prompts[b].size()) + cap[b];
    TORCH_CHECK(need <= model->config().max_position_embeddings, "generate: prompt ", b, " (", prompts[b].size(),
                " tokens) + ", cap[b], " new tokens exceeds max_position_embeddings ",
                model->config().max_position_embeddings);
  }
  at::NoGradGuard no_grad;
  const model::CpuPackedWeights packed(*model);
  const auto device = model->device();
  auto [prompt_ids, prompt_mask] = pad_prompts(prompts, config.pad_token_id);
  const int64_t Tp = prompt_ids.size(1);
  auto prompt_len = prompt_mask.sum(1);  // [B]

  std::vector<std::vector<int64_t>> responses(static_cast<size_t>(B));
  std::vector<std::vector<float>> response_logprobs(static_cast<size_t>(B));
  std::vector<int64_t> in_cache;  // original row of each cache row
  for (int64_t b = 0; b < B; ++b) {
    if (cap[b] > 0) in_cache.push_back(b);
  }
  std::vector<bool> done(static_cast<size_t>(B), false);
  for (int64_t b = 0; b < B; ++b) done[b] = cap[b] == 0;
  auto rows_tensor = [](const std::vector<int64_t>& rows) { return at::tensor(rows, at::kLong); };

  // The logits of the next token of every row in the cache, [rows, V].
  std::unique_ptr<model::KvCache> cache;
  at::Tensor logits;
  // They stay on the model's device: sampling runs there, and only the drawn
  // tokens and their log-probs come back to the host, once per step.
  auto last_logits = [&](const at::Tensor& hidden, const at::Tensor& index) {
    const auto n = hidden.size(0);
    return model->project(hidden.index({at::arange(n, at::TensorOptions().dtype(at::kLong).device(device)),
                                        index.to(device)}));
  };
  if (config.use_cache && !in_cache.empty()) {
    auto rows = rows_tensor(in_cache);
    auto ids = prompt_ids.index_select(0, rows), mask = prompt_mask.index_select(0, rows);
    cache = std::make_unique<model::KvCache>(model->config(), static_cast<int64_t>(in_cache.size()),
                                             Tp + config.max_new_tokens, model->dtype(), device);
    auto hidden = model->hidden_states(ids.to(device), model::position_ids_from_mask(mask).to(device),
                                       mask.to(device), cache.get());
    logits = last_logits(hidden, prompt_len.index_select(0, rows) - 1);
  }

  for (int64_t i = 0; i < config.max_new_tokens && !in_cache.empty(); ++i) {
    if (!config.use_cache) {
      // Reference path: each unfinished row's whole prompt + response so far, every step.
      auto ids = at::full({static_cast<int64_t>(in_cache.size()), Tp + i}, config.pad_token_id, at::kLong);
      auto mask = at::zeros_like(ids);
      for (size_t r = 0; r < in_cache.size(); ++r) {
        const auto& p = prompts[in_cache[r]];
        std::vector<int64_t> seq(p);
        seq.insert(seq.end(), responses[in_cache[r]].begin(), responses[in_cache[r]].end());
        ids[r].slice(0, 0, static_cast<int64_t>(seq.size())).copy_(at::tensor(seq, at::kLong));
        mask[r].slice(0, 0, static_cast<int64_t>(seq.size())).fill_(1);
      }
      auto hidden = model->hidden_states(ids.to(device), model::position_ids_from_mask(mask).to(device), mask.to(device));
      logits = last_logits(hidden, mask.sum(1) - 1);
    }
    // Draw for every row in the cache (finished ones are ignored): uniforms
    // keyed by each row's identity, not its place in the batch.
    auto uniforms = ops::counter_uniform(identity.index_select(0, rows_tensor(in_cache)).to(device), config.seed, i);
    const bool cut = config.vocab_limit > 0 && config.vocab_limit < logits.size(-1);
    auto sampled = ops::sample_tokens(cut ? logits.narrow(-1, 0, config.vocab_limit) : logits, config.sampling, uniforms);
    const auto tokens_cpu = sampled.tokens.cpu(), logprobs_cpu = sampled.logprobs.cpu();
    const auto tokens = tokens_cpu.accessor<int64_t, 1>();
    const auto logprobs = logprobs_cpu.accessor<float, 1>();
    std::vector<int64_t> next_input(in_cache.size(), config.pad_token_id);
    std::vector<int64_t> valid(in_cache.size(), 0);
    std::vector<int64_t> still;
    for (size_t r = 0; r < in_cache.size(); ++r) {
      const int64_t b = in_cache[r];
      if (done[b]) continue;
      const int64_t token = tokens[static_cast<int64_t>(r)];
      responses[b].push_back(token);
      response_logprobs[b].push_back(logprobs[static_cast<int64_t>(r)]);
      done[b] = ends_with_stop(responses[b], config) || static_cast<int64_t>(responses[b].size()) >= cap[b];
      if (!done[b]) {
        still.push_back(b);
        next_input[r] = token;
        valid[r] = 1;
      }
    }
    if (still.empty()) break;
    if (!config.use_cache) {
      in_cache = still;
      continue;
    }
    // Feed the new tokens of the rows still writing; then, when enough rows
    // have finished, drop them from the cache so they stop costing compute.
    auto input = at::tensor(next_input, at::kLong).unsqueeze(1);
    auto pos = (prompt_len.index_select(0, rows_tensor(in_cache)) + i).unsqueeze(1);
    auto hidden = model->hidden_states(input.to(device), pos.to(device),
                                       at::tensor(valid, at::kLong).unsqueeze(1).to(device), cache.get());
    logits = model->project(hidden.select(1, 0));
    if (still.size() * 4 <= in_cache.size() * 3) {
      std::vector<int64_t> keep;
      for (size_t r = 0; r < in_cache.size(); ++r) {
        if (!done[in_cache[r]]) keep.push_back(static_cast<int64_t>(r));
      }
      auto keep_t = rows_tensor(keep).to(device);
      cache->keep_rows(keep_t);
      logits = logits.index_select(0, keep_t);
      in_cache = still;
    }
  }

  return pack_parts(prompts, {ResponsePart{std::move(responses), config.source, std::move(response_logprobs)}},
                    config.pad_token_id);
}

bool ended_on_its_own(const std::vector<int64_t>& response, int64_t cap, const GenerationConfig& config) {
  if (static_cast<int64_t>(response.size()) < cap) return true;
  return !response.empty() && ends_with_stop(response, config);
}

}  // namespace opd::rollout
