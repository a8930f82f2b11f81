// Verifiable reasoning problems small enough for CPU models: each answer
// needs several written steps, the generator writes the worked solution
// (SFT targets, and the reference solutions of OPSD/TRD) and the answer a
// verifier checks (`\boxed{}` at the end, math_boxed). Domains:
//   arith    a chain of 3-4 one-digit additions, one running sum per line:
//            "7+5+8=?" -> "7+5=12\n12+8=20\n\boxed{20}"
//   reverse  a 3-5 letter word reversed, one more letter per line:
//            "reverse abc" -> "c\ncb\ncba\n\boxed{cba}"
//   sort     4-7 distinct letters sorted by picking them in any order, the
//            picked ones sorted on each line; every order is correct:
//            "sort cab" -> "a\nab\nabc\n\boxed{abc}" or "b\nbc\nabc\n\boxed{abc}"
// Every character is in the character tokenizer's alphabet
// (tokenizer/char_tokenizer.h), so the tiny models of the paper harness read them.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace opd::data {

struct SyntheticProblem {
  std::string domain;
  std::string prompt;    // the user message
  std::string solution;  // worked steps, ending in \boxed{answer}
  std::string answer;
};

struct SyntheticTaskSpec {
  std::vector<std::string> domains = {"arith", "reverse"};
  int64_t train_size = 4000;  // problems, spread evenly over the domains
  int64_t test_size = 200;
  uint64_t seed = 0;
};

struct SyntheticSplits {
  std::vector<SyntheticProblem> train, test;  // no prompt is in both; none repeats within a split
};

// The domain names make_synthetic_problem accepts, in a fixed order.
const std::vector<std::string>& synthetic_domains();

// One problem of `domain`, drawn from `rng`. Throws naming the known
// domains when `domain` is none of them.
SyntheticProblem make_synthetic_problem(const std::string& domain, std::mt19937_64& rng);

// Both splits, the same for the same spec on every platform. Domains take
// turns, so each split is balanced. Throws when a domain is unknown, a size
// is not positive, or a domain has too few distinct problems for its share.
SyntheticSplits make_synthetic_splits(const SyntheticTaskSpec& spec);

// One JSONL line (no newline) the prompt dataset reads: prompt, solution,
// answer, domain.
std::string synthetic_problem_json(const SyntheticProblem& problem);

// Writes one problem per line to `path`, atomically (core/atomic_file.h);
// creates the parent directory.
void write_synthetic_jsonl(const std::vector<SyntheticProblem>& problems, const std::string& path);

}  // namespace opd::data
