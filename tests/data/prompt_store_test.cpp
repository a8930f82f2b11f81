#include "opd/data/prompt_store.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace opd::data {
namespace {

using opd::testing::expect_error;
using opd::testing::ScratchDir;

std::vector<Prompt> some_prompts() {
  std::vector<Prompt> p(3);
  p[0].ids = {1, 2, 3};
  p[0].teacher_ids = {9, 1, 2, 3};
  p[0].response_ids = {4, 5};
  p[0].answer = "\\frac{1}{2}";
  p[0].solution = "half: 数学";
  p[0].domain = "math";
  p[0].line = 1;
  p[1].ids = {7};
  p[1].line = 3;
  p[2].ids = {8, 8};
  p[2].response_ids = {6};
  p[2].domain = "code";
  p[2].line = 4;
  return p;
}

TEST(PromptStore, RoundTripsEveryField) {
  ScratchDir dir;
  const auto original = PromptDataset::from_prompts(some_prompts());
  write_prompt_store(original, dir / "p.h5");
  EXPECT_FALSE(std::filesystem::exists(dir / "p.h5.tmp"));
  const auto back = PromptDataset::from_file(dir / "p.h5");
  ASSERT_EQ(back.size(), 3);
  EXPECT_EQ(back.path(), dir / "p.h5");
  for (int64_t i = 0; i < 3; ++i) {
    const auto &a = original[i], &b = back[i];
    EXPECT_EQ(b.ids, a.ids) << i;
    EXPECT_EQ(b.teacher_ids, a.teacher_ids) << i;
    EXPECT_EQ(b.response_ids, a.response_ids) << i;
    EXPECT_EQ(b.answer, a.answer) << i;
    EXPECT_EQ(b.solution, a.solution) << i;
    EXPECT_EQ(b.domain, a.domain) << i;
    EXPECT_EQ(b.line, a.line) << i;
  }
}

TEST(PromptStore, BadFilesAreClearErrors) {
  ScratchDir dir;
  opd::testing::write_file_bytes(dir / "junk.h5", "not hdf5 at all");
  expect_error([&] { read_prompt_store(dir / "junk.h5"); }, {"junk.h5", "not a readable prompt store"});
  expect_error([&] { read_prompt_store(dir / "none.h5"); }, {"none.h5", "cannot be opened"});
  // A write into a directory that does not exist leaves nothing behind.
  expect_error([&] { write_prompt_store(PromptDataset::from_prompts(some_prompts()), dir / "no/such/dir/p.h5"); },
               {"no/such/dir/p.h5", "cannot write"});
}

}  // namespace
}  // namespace opd::data
