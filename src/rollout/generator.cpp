#include "opd/rollout/generator.h"

#include "opd/model/kv_cache.h"
#include "opd/rollout/sequence_packing.h"

#include <torch/csrc/autograd/grad_mode.h>

#include <algorithm>

namespace opd::rollout {
namespace {

// Prompts right-padded into [B, Tp] ids and mask.
std::pair<at::Tensor, at::Tensor> pad_prompts(const std::vector<std::vector<int64_t>>& prompts,
                                              int64_t pad) {
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

}  // namespace

RolloutBatch generate(model::CausalLM& model, const std::vector<std::vector<int64_t>>& prompts,
                      const GenerationConfig& config, at::Generator& generator) {
  TORCH_CHECK(!prompts.empty(), "generate: no prompts");
  TORCH_CHECK(config.max_new_tokens > 0, "generate: max_new_tokens must be > 0, got ",
              config.max_new_tokens);
  torch::NoGradGuard no_grad;
  const auto device = model->device();
  const int64_t B = static_cast<int64_t>(prompts.size());
  auto [prompt_ids, prompt_mask] = pad_prompts(prompts, config.pad_token_id);
  const int64_t Tp = prompt_ids.size(1);
  auto prompt_len = prompt_mask.sum(1);  // [B]
  for (int64_t b = 0; b < B; ++b) {
    const int64_t need = static_cast<int64_t>(prompts[b].size()) + config.max_new_tokens;
    TORCH_CHECK(need <= model->config().max_position_embeddings, "generate: prompt ", b, " (",
                prompts[b].size(), " tokens) + max_new_tokens ", config.max_new_tokens,
                " exceeds max_position_embeddings ", model->config().max_position_embeddings);
  }

  auto stop_ids = at::tensor(config.stop_token_ids.empty() ? std::vector<int64_t>{-1}
                                                           : config.stop_token_ids, at::kLong);
  auto response = at::full({B, config.max_new_tokens}, config.pad_token_id, at::kLong);
  auto finished = at::zeros({B}, at::kBool);
  auto response_len = at::zeros({B}, at::kLong);
  auto rows = at::arange(B, at::kLong);

  std::unique_ptr<model::KvCache> cache;
  at::Tensor logits;  // [B, V] for the next token
  auto last_logits = [&](const at::Tensor& all, const at::Tensor& index) {
    return all.index({rows.to(all.device()), index.to(all.device())});
  };
  if (config.use_cache) {
    cache = std::make_unique<model::KvCache>(model->config(), B, Tp + config.max_new_tokens,
                                             model->dtype(), device);
    auto pos = model::position_ids_from_mask(prompt_mask);
    auto hidden = model->hidden_states(prompt_ids.to(device), pos.to(device),
                                       prompt_mask.to(device), cache.get());
    logits = model->project(last_logits(hidden, prompt_len - 1)).cpu();
  }

  for (int64_t i = 0; i < config.max_new_tokens; ++i) {
    if (!config.use_cache) {
      // Reference path: the whole prompt + response so far, every step.
      auto ids = at::cat({prompt_ids, at::zeros({B, i}, at::kLong)}, 1);
      auto mask = at::cat({prompt_mask, at::zeros({B, i}, at::kLong)}, 1);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t L = prompt_len[b].item<int64_t>();
        ids[b].slice(0, L, L + i).copy_(response[b].slice(0, 0, i));
        mask[b].slice(0, L, L + i).fill_(1);
      }
      auto hidden = model->hidden_states(ids.to(device), model::position_ids_from_mask(mask).to(device),
                                         mask.to(device));
      logits = model->project(last_logits(hidden, prompt_len + i - 1)).cpu();
    }
    auto next = sample_tokens(logits, config.sampling, generator).cpu();
    next.masked_fill_(finished, config.pad_token_id);
    response.select(1, i).copy_(next);
    response_len.add_(finished.logical_not().to(at::kLong));
    finished.logical_or_(at::isin(next, stop_ids));
    if (finished.all().item<bool>() || i + 1 == config.max_new_tokens) break;
    if (config.use_cache) {
      auto pos = (prompt_len + i).unsqueeze(1);
      auto valid = finished.logical_not().unsqueeze(1).to(at::kLong);
      auto hidden = model->hidden_states(next.unsqueeze(1).to(device), pos.to(device),
                                         valid.to(device), cache.get());
      logits = model->project(hidden.select(1, 0)).cpu();
    }
  }

  std::vector<std::vector<int64_t>> responses(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const int64_t R = response_len[b].item<int64_t>();
    auto row = response[b].slice(0, 0, R).contiguous();
    responses[b].assign(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + R);
  }
  return pack_sequences(prompts, responses, config.source, config.pad_token_id);
}

}  // namespace opd::rollout
