#include "opd/model/tiny_model.h"
#include "opd/rollout/generator.h"
#include "opd/rollout/sequence_packing.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

namespace opd::rollout {
namespace {

using opd::testing::expect_error;

TEST(SequencePacking, LayoutSourcesAndMasks) {
  const std::vector<std::vector<int64_t>> prompts = {{4, 5, 6}, {7}, {8, 9}};
  const std::vector<std::vector<int64_t>> responses = {{10, 11}, {12, 13, 14, 15}, {}};
  auto batch = pack_sequences(prompts, responses, TokenSource::kRefined, /*pad_token_id=*/2);
  ASSERT_EQ(batch.seq_len(), 5);
  auto expect_row = [&](int64_t b, std::vector<int64_t> tokens, std::vector<int64_t> attention,
                        std::vector<float> loss, std::vector<int8_t> source,
                        std::vector<int64_t> positions) {
    EXPECT_TRUE(at::equal(batch.tokens[b], at::tensor(tokens, at::kLong))) << batch.tokens[b];
    EXPECT_TRUE(at::equal(batch.attention_mask[b], at::tensor(attention, at::kLong)));
    EXPECT_TRUE(at::equal(batch.loss_mask[b], at::tensor(loss, at::kFloat)));
    EXPECT_TRUE(at::equal(batch.source[b], at::tensor(source, at::kChar)));
    EXPECT_TRUE(at::equal(batch.position_ids[b], at::tensor(positions, at::kLong)));
  };
  expect_row(0, {4, 5, 6, 10, 11}, {1, 1, 1, 1, 1}, {0, 0, 0, 1, 1}, {0, 0, 0, 3, 3}, {0, 1, 2, 3, 4});
  expect_row(1, {7, 12, 13, 14, 15}, {1, 1, 1, 1, 1}, {0, 1, 1, 1, 1}, {0, 3, 3, 3, 3}, {0, 1, 2, 3, 4});
  expect_row(2, {8, 9, 2, 2, 2}, {1, 1, 0, 0, 0}, {0, 0, 0, 0, 0}, {0, 0, 0, 0, 0}, {0, 1, 0, 0, 0});
  EXPECT_TRUE(at::equal(batch.prompt_lengths, at::tensor({3, 1, 2}, at::kLong)));
  EXPECT_TRUE(at::equal(batch.response_lengths, at::tensor({2, 4, 0}, at::kLong)));
  EXPECT_EQ(response_ids(batch), responses);
}

TEST(SequencePacking, RoundTripsAGeneratedBatch) {
  model::TinyModelSpec spec;
  spec.vocab_size = 50;
  spec.seed = 4;
  spec.init_std = 0.5;
  spec.eos_token_id = 3;
  auto model = model::make_tiny_model(spec);
  GenerationConfig cfg;
  cfg.max_new_tokens = 9;
  cfg.stop_token_ids = {3};
  cfg.source = TokenSource::kTeacherPrefix;
  cfg.seed = 2;
  const std::vector<std::vector<int64_t>> prompts = {{5, 6, 7}, {8}, {9, 10, 11, 12}};
  auto batch = generate(model, prompts, cfg);
  auto source = batch.source.masked_select(batch.loss_mask > 0);
  EXPECT_TRUE((source == static_cast<int8_t>(TokenSource::kTeacherPrefix)).all().item<bool>());
  auto repacked = pack_sequences(prompts, response_ids(batch), TokenSource::kTeacherPrefix);
  for (auto [a, b] : {std::pair{repacked.tokens, batch.tokens},
                      {repacked.attention_mask, batch.attention_mask},
                      {repacked.position_ids, batch.position_ids},
                      {repacked.loss_mask, batch.loss_mask},
                      {repacked.source, batch.source},
                      {repacked.response_lengths, batch.response_lengths}}) {
    EXPECT_TRUE(at::equal(a, b)) << a << b;
  }
}

TEST(SequencePacking, MismatchedOrEmptyInputsAreErrors) {
  expect_error([] { pack_sequences({{1}}, {{2}, {3}}, TokenSource::kStudent); },
               {"1 prompts but 2 responses"});
  expect_error([] { pack_sequences({{1}, {}}, {{2}, {3}}, TokenSource::kStudent); },
               {"prompt 1 is empty"});
  expect_error([] { pack_sequences({}, {}, TokenSource::kStudent); }, {"no prompts"});
}

}  // namespace
}  // namespace opd::rollout
