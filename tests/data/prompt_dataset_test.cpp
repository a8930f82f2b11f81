#include "opd/data/prompt_dataset.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

namespace opd::data {
namespace {

using opd::testing::error_message;
using opd::testing::ScratchDir;

std::string write(const ScratchDir& dir, const std::string& text) {
  const std::string path = dir / "prompts.jsonl";
  std::ofstream(path) << text;
  return path;
}

TEST(PromptDataset, ReadsIdsAndSkipsBlankLines) {
  ScratchDir dir;
  auto ds = PromptDataset::from_jsonl(write(dir, "{\"prompt_ids\": [1, 2, 3]}\n\n{\"prompt_ids\": [4], \"domain\": \"math\"}\n"));
  ASSERT_EQ(ds.size(), 2);
  EXPECT_EQ(ds[0].ids, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(ds[1].ids, (std::vector<int64_t>{4}));
  EXPECT_EQ(ds[1].line, 3);
}

TEST(PromptDataset, MalformedLinesNameFileAndLine) {
  ScratchDir dir;
  const std::string good = "{\"prompt_ids\": [1]}\n";
  auto err = [&](const std::string& bad) {
    return error_message([&] { PromptDataset::from_jsonl(write(dir, good + good + bad)); });
  };
  EXPECT_NE(err("{\"prompt_ids\": [1,\n").find("prompts.jsonl:3: not valid JSON"), std::string::npos);
  EXPECT_NE(err("{\"prompt\": \"hi\"}\n").find("prompts.jsonl:3: missing 'prompt_ids'"), std::string::npos);
  EXPECT_NE(err("{\"prompt_ids\": []}\n").find(":3: 'prompt_ids' must be a non-empty list"), std::string::npos);
  EXPECT_NE(err("{\"prompt_ids\": [1, \"a\"]}\n").find(":3: 'prompt_ids' holds \"a\""), std::string::npos);
  EXPECT_NE(err("[1, 2]\n").find(":3: expected a JSON object"), std::string::npos);
  EXPECT_NE(error_message([&] { PromptDataset::from_jsonl(dir / "missing.jsonl"); }).find("cannot be opened"), std::string::npos);
  auto ds = PromptDataset::from_jsonl(write(dir, good + "{\"prompt_ids\": [7, 300]}\n"));
  EXPECT_NE(error_message([&] { ds.check_vocab(256, "student"); }).find(":2: token id 300 is outside the student vocabulary of 256"), std::string::npos);
}

TEST(PromptDataset, ReadsOptionalResponseIds) {
  ScratchDir dir;
  auto ds = PromptDataset::from_jsonl(
      write(dir, "{\"prompt_ids\": [1, 2], \"response_ids\": [5, 6, 7]}\n{\"prompt_ids\": [3]}\n"));
  ASSERT_EQ(ds.size(), 2);
  EXPECT_EQ(ds[0].response_ids, (std::vector<int64_t>{5, 6, 7}));
  EXPECT_TRUE(ds[1].response_ids.empty());
  EXPECT_EQ(ds.path(), dir / "prompts.jsonl");

  auto err = [&](const std::string& bad) {
    return error_message([&] { PromptDataset::from_jsonl(write(dir, "{\"prompt_ids\": [1]}\n" + bad)); });
  };
  EXPECT_NE(err("{\"prompt_ids\": [1], \"response_ids\": []}\n").find(":2: 'response_ids' must be a non-empty list"), std::string::npos);
  EXPECT_NE(err("{\"prompt_ids\": [1], \"response_ids\": [2, -1]}\n").find(":2: 'response_ids' holds -1"), std::string::npos);
  EXPECT_NE(err("{\"prompt_ids\": [1], \"response_ids\": 4}\n").find(":2: 'response_ids' must be a non-empty list"), std::string::npos);
  // check_vocab covers the responses too.
  auto big = PromptDataset::from_jsonl(write(dir, "{\"prompt_ids\": [1]}\n{\"prompt_ids\": [2], \"response_ids\": [3, 64]}\n"));
  EXPECT_NE(error_message([&] { big.check_vocab(64, "student"); }).find(":2: token id 64 is outside the student vocabulary of 64"), std::string::npos);
}

TEST(PromptSampler, EpochsArePermutationsAndSeedsReproduce) {
  PromptSampler a(10, 42, true), b(10, 42, true), c(10, 43, true);
  auto first = a.next(10);
  EXPECT_EQ(std::set<int64_t>(first.begin(), first.end()).size(), 10u);
  EXPECT_EQ(first, b.next(10));
  EXPECT_NE(first, c.next(10));
  auto second = a.next(10);
  EXPECT_EQ(a.epoch(), 1);
  EXPECT_NE(first, second);
  PromptSampler plain(3, 0, false);
  EXPECT_EQ(plain.next(5), (std::vector<int64_t>{0, 1, 2, 0, 1}));
}

}  // namespace
}  // namespace opd::data
