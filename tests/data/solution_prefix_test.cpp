#include "opd/data/solution_prefix.h"
#include "opd/data/synthetic_tasks.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace opd::data {
namespace solution_prefix_test {
namespace {

// Every correct solution of a letter sort, written out: one per pick order.
std::vector<std::string> every_sort_solution(const std::string& answer) {
  std::vector<std::string> out;
  std::string order = answer;
  do {
    std::string line, text;
    for (char c : order) {
      line += c;
      std::sort(line.begin(), line.end());
      text += line + "\n";
    }
    out.push_back(text + "\\boxed{" + answer + "}");
  } while (std::next_permutation(order.begin(), order.end()));
  return out;
}

// The reference: the longest prefix of `response` any of `solutions` begins with.
size_t longest_common_prefix(const std::vector<std::string>& solutions, const std::string& response) {
  size_t best = 0;
  for (const auto& s : solutions) {
    size_t n = 0;
    while (n < s.size() && n < response.size() && s[n] == response[n]) ++n;
    best = std::max(best, n);
  }
  return best;
}

TEST(SolutionPrefix, EveryPrefixOfAGeneratedSolutionIsValidAndOnlyTheWholeIsComplete) {
  std::mt19937_64 rng(11);
  for (const std::string domain : {"arith", "reverse", "sort"}) {
    for (int i = 0; i < 20; ++i) {
      const auto p = make_synthetic_problem(domain, rng);
      for (size_t n = 0; n <= p.solution.size(); ++n) {
        const auto r = valid_solution_prefix(domain, p.solution, p.answer, std::string_view(p.solution).substr(0, n));
        ASSERT_EQ(r.valid_chars, n) << domain << ": " << p.solution.substr(0, n);
        ASSERT_EQ(r.complete, n == p.solution.size()) << p.solution.substr(0, n);
      }
      const auto longer = valid_solution_prefix(domain, p.solution, p.answer, p.solution + "x");
      EXPECT_EQ(longer.valid_chars, p.solution.size());
      EXPECT_FALSE(longer.complete) << "nothing follows a whole solution";
    }
  }
}

TEST(SolutionPrefix, SortAcceptsEveryPickOrderAndAgreesWithTheirEnumeration) {
  std::mt19937_64 rng(12);
  std::uniform_int_distribution<int> letter('a', 'z');
  for (int i = 0; i < 60; ++i) {
    const auto p = make_synthetic_problem("sort", rng);
    if (p.answer.size() > 5) continue;  // 5! orders at most, to enumerate
    const auto solutions = every_sort_solution(p.answer);
    for (const auto& s : solutions) {
      const auto r = valid_solution_prefix("sort", "", p.answer, s);
      ASSERT_EQ(r.valid_chars, s.size()) << s;
      EXPECT_TRUE(r.complete) << s;
    }
    // A correct solution with one character changed (or cut after it) is
    // valid as far as some correct solution goes along with it.
    for (int m = 0; m < 40; ++m) {
      std::string response = solutions[rng() % solutions.size()];
      const size_t at = rng() % response.size();
      response[at] = rng() % 4 == 0 ? '\n' : static_cast<char>(letter(rng));
      if (rng() % 2) response.resize(at + 1 + rng() % (response.size() - at));
      const auto r = valid_solution_prefix("sort", "", p.answer, response);
      ASSERT_EQ(r.valid_chars, longest_common_prefix(solutions, response)) << p.answer << ": " << response;
      const bool whole = std::find(solutions.begin(), solutions.end(), response) != solutions.end();
      EXPECT_EQ(r.complete, whole) << response;
    }
  }
}

TEST(SolutionPrefix, UniqueSolutionsAreFollowedCharacterByCharacter) {
  const std::string solution = "3+4=7\n7+2=9\n\\boxed{9}";
  EXPECT_EQ(valid_solution_prefix("arith", solution, "9", "3+4=8\n8+2=10").valid_chars, 4u);
  EXPECT_EQ(valid_solution_prefix("arith", solution, "9", "").valid_chars, 0u);
  EXPECT_EQ(valid_solution_prefix("reverse", "c\ncb\ncba\n\\boxed{cba}", "cba", "c\ncb\ncab").valid_chars, 6u);
}

TEST(SolutionPrefix, AnUnknownDomainIsNamed) {
  EXPECT_FALSE(knows_solutions_of("math"));
  opd::testing::expect_error([] { valid_solution_prefix("math", "x", "x", "x"); },
                             {"domain 'math'", "arith, reverse, sort"});
}

}  // namespace
}  // namespace solution_prefix_test
}  // namespace opd::data
