#include "opd/train/valid_solution_tokens.h"

#include "opd/data/solution_prefix.h"
#include "opd/rollout/sequence_packing.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace opd::train {

bool knows_solutions(const data::PromptDataset& dataset) {
  for (int64_t i = 0; i < dataset.size(); ++i) {
    const auto& line = dataset[i];
    if (line.solution.empty() || !data::knows_solutions_of(line.domain)) return false;
  }
  return dataset.size() > 0;
}

at::Tensor valid_solution_tokens(const RolloutBatch& batch, const std::vector<int64_t>& rows,
                                 const data::PromptDataset& dataset, const tokenizer::Tokenizer& tokenizer) {
  TORCH_CHECK(static_cast<int64_t>(rows.size()) == batch.batch_size(), "valid_solution_tokens: ", rows.size(),
              " dataset lines for a batch of ", batch.batch_size());
  const auto responses = rollout::response_ids(batch);
  const auto prompt_lengths = batch.prompt_lengths.cpu();
  auto valid = at::zeros({batch.batch_size(), batch.seq_len()}, at::kFloat);
  auto v = valid.accessor<float, 2>();
  for (size_t b = 0; b < rows.size(); ++b) {
    const auto& line = dataset[rows[b]];
    const auto check = [&](std::string_view text) {
      return data::valid_solution_prefix(line.domain, line.solution, line.answer, text);
    };
    std::string text;
    std::vector<size_t> ends;
    for (int64_t id : responses[b]) ends.push_back((text += tokenizer.decode({id}, /*skip_special=*/true)).size());
    const size_t valid_chars = check(text).valid_chars;
    const int64_t start = prompt_lengths[static_cast<int64_t>(b)].item<int64_t>();
    for (size_t i = 0, before = 0; i < ends.size(); before = ends[i], ++i) {
      const bool adds_text = ends[i] > before;
      if (ends[i] > valid_chars || (!adds_text && !check(std::string_view(text).substr(0, before)).complete)) break;
      v[static_cast<int64_t>(b)][start + static_cast<int64_t>(i)] = 1;
    }
  }
  return valid.to(batch.tokens.device());
}

}  // namespace opd::train
