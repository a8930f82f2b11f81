#include "opd/data/synthetic_tasks.h"
#include "opd/eval/verifier.h"
#include "opd/tokenizer/char_tokenizer.h"
#include "support/test_support.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace opd::data {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

// Each written step of an addition chain is right and continues the last
// one, and the boxed answer is the final sum of the prompt's terms.
void expect_sound_addition(const SyntheticProblem& p) {
  std::vector<int> terms;
  std::stringstream prompt(p.prompt.substr(0, p.prompt.size() - 2));  // drop "=?"
  for (std::string t; std::getline(prompt, t, '+');) terms.push_back(std::stoi(t));
  ASSERT_GE(terms.size(), 3u) << p.prompt;
  const auto steps = lines_of(p.solution);
  ASSERT_EQ(steps.size(), terms.size()) << p.solution;  // one line per addition + the answer
  int running = terms[0];
  for (size_t i = 1; i < terms.size(); ++i) {
    int a = 0, b = 0, c = 0;
    ASSERT_EQ(std::sscanf(steps[i - 1].c_str(), "%d+%d=%d", &a, &b, &c), 3) << steps[i - 1];
    EXPECT_EQ(a, running);
    EXPECT_EQ(b, terms[i]);
    EXPECT_EQ(c, a + b);
    running = c;
  }
  EXPECT_EQ(p.answer, std::to_string(running));
}

// Each line of a letter sort is the last one with one more of the prompt's
// letters, kept sorted; the last holds them all, and the answer is it.
void expect_sound_sort(const SyntheticProblem& p) {
  std::string letters = p.prompt.substr(std::string("sort ").size());
  ASSERT_GE(letters.size(), 4u);
  ASSERT_LE(letters.size(), 7u);
  std::sort(letters.begin(), letters.end());
  ASSERT_EQ(std::adjacent_find(letters.begin(), letters.end()), letters.end()) << "letters repeat: " << p.prompt;
  EXPECT_EQ(p.answer, letters);
  const auto steps = lines_of(p.solution);
  ASSERT_EQ(steps.size(), letters.size() + 1);
  std::string last;
  for (size_t n = 1; n <= letters.size(); ++n) {
    const auto& line = steps[n - 1];
    ASSERT_EQ(line.size(), n) << p.solution;
    EXPECT_TRUE(std::is_sorted(line.begin(), line.end())) << line;
    EXPECT_TRUE(std::includes(letters.begin(), letters.end(), line.begin(), line.end())) << line;
    EXPECT_TRUE(std::includes(line.begin(), line.end(), last.begin(), last.end())) << last << " -> " << line;
    last = line;
  }
}

TEST(SyntheticTasks, SolutionsAreSoundAndVerify) {
  const auto verifier = eval::make_verifier("math_boxed");
  const auto& alphabet = tokenizer::default_char_alphabet();
  std::mt19937_64 rng(3);
  for (int i = 0; i < 300; ++i) {
    for (const auto& domain : synthetic_domains()) {
      const auto p = make_synthetic_problem(domain, rng);
      EXPECT_EQ(p.domain, domain);
      EXPECT_TRUE(verifier->correct(p.solution, p.answer)) << p.solution;
      EXPECT_FALSE(verifier->correct(p.solution, p.answer + "1")) << "the verifier must be able to say no";
      for (char c : p.prompt + p.solution) {
        ASSERT_NE(alphabet.find(c), std::string::npos) << "'" << c << "' is not in the char tokenizer";
      }
      if (domain == "arith") {
        expect_sound_addition(p);
      } else if (domain == "sort") {
        expect_sound_sort(p);
      } else {
        // "reverse abc": the lines grow the reversed word one letter at a time.
        const std::string word = p.prompt.substr(std::string("reverse ").size());
        EXPECT_EQ(p.answer, std::string(word.rbegin(), word.rend()));
        const auto steps = lines_of(p.solution);
        ASSERT_EQ(steps.size(), word.size() + 1);
        for (size_t n = 1; n <= word.size(); ++n) EXPECT_EQ(steps[n - 1], p.answer.substr(0, n));
      }
    }
  }
}

TEST(SyntheticTasks, SortSolutionsPickTheLettersInEveryOrder) {
  // The teacher's entropy at a branch point comes from these orders: the
  // first line of "sort" takes each of the prompt's letters about as often.
  std::mt19937_64 rng(5);
  std::map<int64_t, int64_t> first_pick_rank;  // the first picked letter's rank among the prompt's letters
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    const auto p = make_synthetic_problem("sort", rng);
    if (p.answer.size() != 4) continue;
    first_pick_rank[static_cast<int64_t>(p.answer.find(p.solution[0]))] += 1;
  }
  ASSERT_EQ(first_pick_rank.size(), 4u);
  int64_t fours = 0;
  for (const auto& [rank, count] : first_pick_rank) fours += count;
  for (const auto& [rank, count] : first_pick_rank) EXPECT_NEAR(double(count) / fours, 0.25, 0.06) << "rank " << rank;
}

TEST(SyntheticTasks, SplitsAreDisjointBalancedAndSeeded) {
  SyntheticTaskSpec spec;
  spec.train_size = 1001;
  spec.test_size = 100;
  spec.seed = 7;
  const auto a = make_synthetic_splits(spec);
  ASSERT_EQ(a.train.size(), 1001u);
  ASSERT_EQ(a.test.size(), 100u);
  std::set<std::string> test_prompts, train_prompts;
  int test_arith = 0;
  for (const auto& p : a.test) {
    test_prompts.insert(p.prompt);
    test_arith += p.domain == "arith";
  }
  for (const auto& p : a.train) train_prompts.insert(p.prompt);
  EXPECT_EQ(test_prompts.size(), 100u) << "no repeats within a split";
  EXPECT_EQ(train_prompts.size(), 1001u);
  for (const auto& p : test_prompts) EXPECT_EQ(train_prompts.count(p), 0u) << p << " is in both splits";
  EXPECT_EQ(test_arith, 50);
  EXPECT_EQ(a.train[0].domain, "arith");
  EXPECT_EQ(a.train[1].domain, "reverse");

  const auto again = make_synthetic_splits(spec);
  EXPECT_EQ(synthetic_problem_json(again.train[500]), synthetic_problem_json(a.train[500]));
  // A larger training set keeps the test set.
  spec.train_size = 2000;
  EXPECT_EQ(synthetic_problem_json(make_synthetic_splits(spec).test[99]), synthetic_problem_json(a.test[99]));
  spec.seed = 8;
  EXPECT_NE(synthetic_problem_json(make_synthetic_splits(spec).test[0]), synthetic_problem_json(a.test[0]));
}

TEST(SyntheticTasks, WritesJsonlTheDatasetReads) {
  opd::testing::ScratchDir dir;
  SyntheticTaskSpec spec;
  spec.domains = {"reverse"};
  spec.train_size = 5;
  spec.test_size = 2;
  const auto splits = make_synthetic_splits(spec);
  write_synthetic_jsonl(splits.train, dir / "sub/train.jsonl");
  std::ifstream in(dir / "sub/train.jsonl");
  int n = 0;
  for (std::string line; std::getline(in, line); ++n) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j.at("domain"), "reverse");
    EXPECT_EQ(j.at("answer"), splits.train[static_cast<size_t>(n)].answer);
    EXPECT_FALSE(j.at("solution").get<std::string>().empty());
  }
  EXPECT_EQ(n, 5);
  EXPECT_FALSE(std::filesystem::exists(dir / "sub/train.jsonl.tmp"));
}

TEST(SyntheticTasks, BadSpecsAreNamed) {
  SyntheticTaskSpec spec;
  spec.domains = {"arith", "poetry"};
  opd::testing::expect_error([&] { make_synthetic_splits(spec); }, {"unknown domain 'poetry'", "arith, reverse, sort"});
  spec.domains = {"arith"};
  spec.train_size = 20000;  // only 9^3 + 9^4 = 7290 distinct chains exist
  opd::testing::expect_error([&] { make_synthetic_splits(spec); }, {"domain 'arith' ran out of distinct problems"});
  spec.train_size = 0;
  opd::testing::expect_error([&] { make_synthetic_splits(spec); }, {"must be > 0"});
}

}  // namespace
}  // namespace opd::data
