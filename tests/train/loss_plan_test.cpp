// The loss plan: normalisation over the global batch and token keys, fixed
// before any micro-batch runs.
#include "opd/train/loss_plan.h"

#include "opd/core/token_keys.h"
#include "opd/rollout/sequence_packing.h"
#include "support/test_support.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace opd::train {
namespace {

using opd::testing::expect_error;

TEST(LossPlan, TokenAndSequenceNormalization) {
  auto mask = at::tensor({1.f, 1.f, 1.f, 0.f,  //
                          0.f, 1.f, 0.f, 0.f,  //
                          0.f, 0.f, 0.f, 0.f})
                  .view({3, 4});
  auto token = loss_token_weights(mask, LossNormalization::kToken);
  EXPECT_TRUE(at::allclose(token, mask / 4.0));
  // Two rows have loss tokens: row 0 spreads 1/2 over 3 tokens, row 1 puts 1/2 on 1.
  auto sequence = loss_token_weights(mask, LossNormalization::kSequence);
  auto expected = at::tensor({1.f / 6, 1.f / 6, 1.f / 6, 0.f,  //
                              0.f, 0.5f, 0.f, 0.f,             //
                              0.f, 0.f, 0.f, 0.f})
                      .view({3, 4});
  EXPECT_TRUE(at::allclose(sequence, expected)) << sequence;
  EXPECT_NEAR(sequence.sum().item<double>(), 1.0, 1e-6);
  expect_error([&] { loss_token_weights(at::zeros({2, 3}), LossNormalization::kToken); },
               {"no loss tokens"});
}

// Two ranks holding the same rows: every count doubles, so every weight halves.
TEST(LossPlan, CountsAreGlobalAndKeysStartAtTheRanksFirstRow) {
  const auto batch = rollout::pack_sequences({{1, 2}, {3}, {4, 5, 6}}, {{7, 8, 9}, {10}, {}},
                                             TokenSource::kStudent);
  int64_t calls = 0;
  const auto two_ranks = [&](double v) {
    ++calls;
    return 2 * v;
  };
  for (auto n : {LossNormalization::kToken, LossNormalization::kSequence}) {
    SCOPED_TRACE(loss_normalization_name(n));
    calls = 0;
    const auto alone = plan_loss(batch, n, /*first_row=*/0, /*step=*/0);
    const auto shared = plan_loss(batch, n, /*first_row=*/6, /*step=*/0, two_ranks);
    EXPECT_GT(calls, 0);
    EXPECT_EQ(alone.global_tokens, 4.0);  // 3 + 1 response tokens
    EXPECT_EQ(shared.global_tokens, 8.0);
    EXPECT_TRUE(at::allclose(shared.token_weight, alone.token_weight / 2));
    EXPECT_NEAR(alone.token_weight.sum().item<double>(), 1.0, 1e-6);
    EXPECT_TRUE(at::equal(alone.loss_mask, shared.loss_mask));
    EXPECT_TRUE(at::equal(shared.token_keys, token_keys(6, 3, batch.seq_len() - 1)));
  }
  const auto empty = rollout::pack_sequences({{1, 2}}, {{}}, TokenSource::kStudent);
  expect_error([&] { plan_loss(empty, LossNormalization::kToken, 0, 3); }, {"step 3", "no loss tokens"});
}

}  // namespace
}  // namespace opd::train
