#include "opd/train/valid_solution_tokens.h"

#include "opd/rollout/sequence_packing.h"
#include "opd/tokenizer/char_tokenizer.h"
#include "opd/tokenizer/hf_tokenizer.h"

#include <gtest/gtest.h>

namespace opd::train {
namespace valid_solution_tokens_test {
namespace {

data::Prompt sort_line(std::vector<int64_t> ids) {
  data::Prompt p;
  p.ids = std::move(ids);
  p.domain = "sort";
  p.answer = "abc";
  p.solution = "c\nac\nabc\n\\boxed{abc}";
  return p;
}

std::vector<float> row_of(const at::Tensor& valid, int64_t b) {
  const auto r = valid[b].contiguous();
  return {r.data_ptr<float>(), r.data_ptr<float>() + r.numel()};
}

// Each response token is valid while the response through it is on some
// correct solution; the end of text only after a whole one.
TEST(ValidSolutionTokens, MarkEachResponseUpToWhereItLeavesEveryCorrectSolution) {
  const auto tok = tokenizer::HfTokenizer::from_json_text(tokenizer::char_tokenizer_json(), "char tokenizer");
  const int64_t eos = *tok->token_to_id("<|endoftext|>");
  auto ids = [&](const std::string& text) { return tok->encode(text, /*add_special=*/false); };
  auto dataset = data::PromptDataset::from_prompts({sort_line(ids("sort bca")), sort_line(ids("sort cab"))});
  ASSERT_TRUE(knows_solutions(dataset));

  auto whole = ids("b\nbc\nabc\n\\boxed{abc}");  // another pick order than the reference's
  whole.push_back(eos);
  auto early = ids("a\nab\n");  // valid so far, then it stops
  early.push_back(eos);
  const auto wrong = ids("a\nad\nx");  // leaves at 'd'
  const auto batch =
      rollout::pack_sequences({ids("sort bca"), ids("sort cab"), ids("sort bca")}, {whole, early, wrong},
                              TokenSource::kStudent, /*pad_token_id=*/eos);
  const auto valid = valid_solution_tokens(batch, {0, 1, 0}, dataset, *tok);
  ASSERT_EQ(valid.sizes(), batch.tokens.sizes());
  const int64_t prompt = 8;
  auto expect_row = [&](int64_t b, int64_t valid_tokens, int64_t response) {
    const auto got = row_of(valid, b);
    for (int64_t t = 0; t < batch.seq_len(); ++t) {
      const bool want = t >= prompt && t < prompt + valid_tokens;
      EXPECT_EQ(got[t], want ? 1.0f : 0.0f) << "row " << b << " position " << t << " of a " << response
                                            << "-token response";
    }
  };
  expect_row(0, static_cast<int64_t>(whole.size()), static_cast<int64_t>(whole.size()));
  expect_row(1, static_cast<int64_t>(early.size()) - 1, static_cast<int64_t>(early.size()));
  expect_row(2, 3, static_cast<int64_t>(wrong.size()));
}

TEST(ValidSolutionTokens, UnknownDomainsOrMissingSolutionsAreNotKnown) {
  auto line = sort_line({1, 2});
  EXPECT_TRUE(knows_solutions(data::PromptDataset::from_prompts({line})));
  line.domain = "math";
  EXPECT_FALSE(knows_solutions(data::PromptDataset::from_prompts({line})));
  line.domain = "sort";
  line.solution.clear();
  EXPECT_FALSE(knows_solutions(data::PromptDataset::from_prompts({line})));
  EXPECT_FALSE(knows_solutions(data::PromptDataset::from_prompts({})));
}

}  // namespace
}  // namespace valid_solution_tokens_test
}  // namespace opd::train
