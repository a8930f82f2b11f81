#include "opd/data/refinement_examples.h"

#include <gtest/gtest.h>

#include <cctype>

namespace opd::data {
namespace refinement_examples_test {
namespace {

RefinementTemplate fix_template() {
  RefinementTemplate t;
  t.name = "t";
  t.prompt = "{problem}\nattempt:\n{attempt}\nfix it.{privileged}";
  t.privileged = "\nsolution:\n{solution}";
  return t;
}

// The three kinds of attempt each appear, and each is what it says: the
// solution, a prefix of it, or it with one digit or letter changed to another
// of the same kind (never a letter of "\boxed").
TEST(RefinementExamples, FaultyAttemptsAreRightCutOrOneCharacterWrong) {
  const std::string solution = "7+5=12\n12+8=20\n\\boxed{20}";
  std::mt19937_64 rng(1);
  int right = 0, cut = 0, changed = 0;
  for (int i = 0; i < 400; ++i) {
    const auto a = faulty_attempt(solution, rng);
    if (a == solution) {
      ++right;
    } else if (a.size() < solution.size()) {
      ASSERT_EQ(solution.compare(0, a.size(), a), 0) << "a cut attempt is a prefix: " << a;
      ASSERT_FALSE(a.empty());
      ++cut;
    } else {
      ASSERT_EQ(a.size(), solution.size()) << a;
      size_t differs = 0, at = 0;
      for (size_t j = 0; j < a.size(); ++j) {
        if (a[j] != solution[j]) ++differs, at = j;
      }
      ASSERT_EQ(differs, 1u) << a;
      EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(a[at]))) << "a digit stays a digit: " << a;
      EXPECT_EQ(a.compare(a.rfind("\\boxed{"), 7, "\\boxed{"), 0) << a;
      ++changed;
    }
  }
  EXPECT_NEAR(right / 400.0, 0.25, 0.07);
  EXPECT_NEAR(cut / 400.0, 0.25, 0.07);
  EXPECT_NEAR(changed / 400.0, 0.5, 0.08);
  std::mt19937_64 letters(2);
  for (int i = 0; i < 50; ++i) {
    const auto a = faulty_attempt("c\ncb\n\\boxed{cb}", letters);
    for (char c : a) EXPECT_TRUE(c == '\n' || c == '\\' || c == '{' || c == '}' || std::islower(c)) << a;
  }
}

TEST(RefinementExamples, EachProblemAppearsAsItselfAndAsARefinementPromptWithTheSameSolution) {
  std::mt19937_64 rng(3);
  std::vector<SyntheticProblem> problems;
  for (int i = 0; i < 6; ++i) problems.push_back(make_synthetic_problem(i % 2 ? "reverse" : "arith", rng));
  const auto out = with_refinement_examples(problems, fix_template(), 7);
  ASSERT_EQ(out.size(), 12u);
  for (size_t i = 0; i < problems.size(); ++i) {
    EXPECT_EQ(out[i].prompt, problems[i].prompt);
    const auto& fix = out[problems.size() + i];
    EXPECT_EQ(fix.prompt.rfind(problems[i].prompt + "\nattempt:\n", 0), 0u) << fix.prompt;
    EXPECT_NE(fix.prompt.find("\nfix it."), std::string::npos) << fix.prompt;
    EXPECT_EQ(fix.prompt.find("solution:"), std::string::npos) << "no privileged text";
    EXPECT_EQ(fix.solution, problems[i].solution);
    EXPECT_EQ(fix.answer, problems[i].answer);
    EXPECT_EQ(fix.domain, problems[i].domain);
  }
  const auto again = with_refinement_examples(problems, fix_template(), 7);
  for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(again[i].prompt, out[i].prompt);
}

}  // namespace
}  // namespace refinement_examples_test
}  // namespace opd::data
