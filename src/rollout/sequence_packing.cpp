#include "opd/rollout/sequence_packing.h"

#include "opd/model/causal_lm.h"

#include <algorithm>

namespace opd::rollout {

RolloutBatch pack_sequences(const std::vector<std::vector<int64_t>>& prompts,
                            const std::vector<std::vector<int64_t>>& responses, TokenSource source,
                            int64_t pad_token_id) {
  TORCH_CHECK(!prompts.empty(), "pack_sequences: no prompts");
  TORCH_CHECK(prompts.size() == responses.size(), "pack_sequences: ", prompts.size(),
              " prompts but ", responses.size(), " responses");
  const int64_t B = static_cast<int64_t>(prompts.size());
  int64_t T = 0;
  for (int64_t b = 0; b < B; ++b) {
    TORCH_CHECK(!prompts[b].empty(), "pack_sequences: prompt ", b, " is empty");
    T = std::max<int64_t>(T, static_cast<int64_t>(prompts[b].size() + responses[b].size()));
  }
  RolloutBatch out;
  out.tokens = at::full({B, T}, pad_token_id, at::kLong);
  out.attention_mask = at::zeros({B, T}, at::kLong);
  out.loss_mask = at::zeros({B, T}, at::kFloat);
  out.source = at::zeros({B, T}, at::kChar);
  out.prompt_lengths = at::empty({B}, at::kLong);
  out.response_lengths = at::empty({B}, at::kLong);
  auto tokens = out.tokens.accessor<int64_t, 2>();
  auto attention = out.attention_mask.accessor<int64_t, 2>();
  auto loss = out.loss_mask.accessor<float, 2>();
  auto src = out.source.accessor<int8_t, 2>();
  auto prompt_lengths = out.prompt_lengths.accessor<int64_t, 1>();
  auto response_lengths = out.response_lengths.accessor<int64_t, 1>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[b];
    const auto& r = responses[b];
    const int64_t L = static_cast<int64_t>(p.size()), R = static_cast<int64_t>(r.size());
    for (int64_t t = 0; t < L; ++t) tokens[b][t] = p[t];
    for (int64_t t = 0; t < R; ++t) {
      tokens[b][L + t] = r[t];
      loss[b][L + t] = 1.0f;
      src[b][L + t] = static_cast<int8_t>(source);
    }
    for (int64_t t = 0; t < L + R; ++t) attention[b][t] = 1;
    prompt_lengths[b] = L;
    response_lengths[b] = R;
  }
  out.position_ids = model::position_ids_from_mask(out.attention_mask);
  return out;
}

std::vector<std::vector<int64_t>> response_ids(const RolloutBatch& batch) {
  auto tokens = batch.tokens.contiguous();
  auto t = tokens.accessor<int64_t, 2>();
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(batch.batch_size()));
  for (int64_t b = 0; b < batch.batch_size(); ++b) {
    const int64_t L = batch.prompt_lengths[b].item<int64_t>();
    const int64_t R = batch.response_lengths[b].item<int64_t>();
    TORCH_CHECK(L + R <= batch.seq_len(), "response_ids: row ", b, " has ", L, " prompt + ", R,
                " response tokens but the batch is ", batch.seq_len(), " long");
    for (int64_t i = L; i < L + R; ++i) out[b].push_back(t[b][i]);
  }
  return out;
}

}  // namespace opd::rollout
