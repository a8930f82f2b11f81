#include "opd/rollout/sequence_packing.h"

#include "opd/model/causal_lm.h"

#include <algorithm>

namespace opd::rollout {

RolloutBatch pack_sequences(const std::vector<std::vector<int64_t>>& prompts,
                            const std::vector<std::vector<int64_t>>& responses, TokenSource source,
                            int64_t pad_token_id) {
  return pack_parts(prompts, {ResponsePart{responses, source, {}}}, pad_token_id);
}

RolloutBatch pack_parts(const std::vector<std::vector<int64_t>>& prompts, const std::vector<ResponsePart>& parts,
                        int64_t pad_token_id) {
  TORCH_CHECK(!prompts.empty(), "pack_sequences: no prompts");
  for (const auto& part : parts) {
    TORCH_CHECK(prompts.size() == part.ids.size(), "pack_sequences: ", prompts.size(), " prompts but ",
                part.ids.size(), " responses");
    TORCH_CHECK(part.logprobs.empty() || part.logprobs.size() == part.ids.size(),
                "pack_sequences: log-probs for ", part.logprobs.size(), " of ", part.ids.size(), " rows");
  }
  bool with_logprobs = !parts.empty();
  for (const auto& part : parts) with_logprobs = with_logprobs && !part.logprobs.empty();
  const int64_t B = static_cast<int64_t>(prompts.size());
  int64_t T = 0;
  for (int64_t b = 0; b < B; ++b) {
    TORCH_CHECK(!prompts[b].empty(), "pack_sequences: prompt ", b, " is empty");
    int64_t length = static_cast<int64_t>(prompts[b].size());
    for (const auto& part : parts) length += static_cast<int64_t>(part.ids[b].size());
    T = std::max(T, length);
  }
  RolloutBatch out;
  out.tokens = at::full({B, T}, pad_token_id, at::kLong);
  out.attention_mask = at::zeros({B, T}, at::kLong);
  out.loss_mask = at::zeros({B, T}, at::kFloat);
  out.source = at::zeros({B, T}, at::kChar);
  out.prompt_lengths = at::empty({B}, at::kLong);
  out.response_lengths = at::empty({B}, at::kLong);
  if (with_logprobs) out.sampler_logprobs = at::zeros({B, T}, at::kFloat);
  auto tokens = out.tokens.accessor<int64_t, 2>();
  auto attention = out.attention_mask.accessor<int64_t, 2>();
  auto loss = out.loss_mask.accessor<float, 2>();
  auto src = out.source.accessor<int8_t, 2>();
  auto prompt_lengths = out.prompt_lengths.accessor<int64_t, 1>();
  auto response_lengths = out.response_lengths.accessor<int64_t, 1>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[b];
    const int64_t L = static_cast<int64_t>(p.size());
    for (int64_t t = 0; t < L; ++t) tokens[b][t] = p[t];
    int64_t t = L;
    for (const auto& part : parts) {
      const auto& r = part.ids[b];
      TORCH_CHECK(part.logprobs.empty() || part.logprobs[b].size() == r.size(), "pack_sequences: row ", b,
                  " has ", r.size(), " tokens but ", part.logprobs[b].size(), " log-probs");
      for (size_t i = 0; i < r.size(); ++i, ++t) {
        tokens[b][t] = r[i];
        loss[b][t] = 1.0f;
        src[b][t] = static_cast<int8_t>(part.source);
        if (with_logprobs) out.sampler_logprobs[b][t] = part.logprobs[b][i];
      }
    }
    for (int64_t i = 0; i < t; ++i) attention[b][i] = 1;
    prompt_lengths[b] = L;
    response_lengths[b] = t - L;
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

std::vector<std::vector<float>> response_logprobs(const RolloutBatch& batch) {
  TORCH_CHECK(batch.sampler_logprobs.defined(), "response_logprobs: the batch has no sampler log-probs");
  auto lp = batch.sampler_logprobs.contiguous();
  auto a = lp.accessor<float, 2>();
  std::vector<std::vector<float>> out(static_cast<size_t>(batch.batch_size()));
  for (int64_t b = 0; b < batch.batch_size(); ++b) {
    const int64_t L = batch.prompt_lengths[b].item<int64_t>(), R = batch.response_lengths[b].item<int64_t>();
    for (int64_t i = L; i < L + R; ++i) out[b].push_back(a[b][i]);
  }
  return out;
}

}  // namespace opd::rollout
