#include "opd/data/synthetic_tasks.h"

#include "opd/core/atomic_file.h"

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <unordered_set>

namespace opd::data {
namespace {

// Uniform in [lo, hi] by rejection, so the draws do not depend on the
// standard library's distributions (which differ between implementations).
int64_t uniform_int(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % span;
  uint64_t x = rng();
  while (x >= limit) x = rng();
  return lo + static_cast<int64_t>(x % span);
}

std::string boxed(const std::string& answer) { return "\\boxed{" + answer + "}"; }

SyntheticProblem addition_chain(std::mt19937_64& rng) {
  const int64_t terms = uniform_int(rng, 3, 4);
  std::vector<int64_t> xs;
  for (int64_t i = 0; i < terms; ++i) xs.push_back(uniform_int(rng, 1, 9));
  SyntheticProblem p;
  p.domain = "arith";
  int64_t sum = xs[0];
  p.prompt = std::to_string(xs[0]);
  for (size_t i = 1; i < xs.size(); ++i) {
    p.prompt += "+" + std::to_string(xs[i]);
    p.solution += std::to_string(sum) + "+" + std::to_string(xs[i]) + "=" + std::to_string(sum + xs[i]) + "\n";
    sum += xs[i];
  }
  p.prompt += "=?";
  p.answer = std::to_string(sum);
  p.solution += boxed(p.answer);
  return p;
}

SyntheticProblem word_reversal(std::mt19937_64& rng) {
  const int64_t letters = uniform_int(rng, 3, 5);
  std::string word;
  for (int64_t i = 0; i < letters; ++i) word += static_cast<char>('a' + uniform_int(rng, 0, 25));
  SyntheticProblem p;
  p.domain = "reverse";
  p.prompt = "reverse " + word;
  p.answer = std::string(word.rbegin(), word.rend());
  for (size_t n = 1; n <= p.answer.size(); ++n) p.solution += p.answer.substr(0, n) + "\n";
  p.solution += boxed(p.answer);
  return p;
}

// The letters picked in a random order, each line the picked ones sorted
// (an insertion sort): every order is a correct solution, so the teacher
// that learns them spreads its mass over the letters not yet picked.
SyntheticProblem letter_sort(std::mt19937_64& rng) {
  const int64_t letters = uniform_int(rng, 4, 7);
  std::string word;
  while (static_cast<int64_t>(word.size()) < letters) {
    const char c = static_cast<char>('a' + uniform_int(rng, 0, 25));
    if (word.find(c) == std::string::npos) word += c;
  }
  SyntheticProblem p;
  p.domain = "sort";
  p.prompt = "sort " + word;
  p.answer = word;
  std::sort(p.answer.begin(), p.answer.end());
  std::string picked = word;  // a second, independent order of the same letters
  for (size_t i = picked.size(); i > 1; --i) std::swap(picked[i - 1], picked[uniform_int(rng, 0, int64_t(i) - 1)]);
  std::string line;
  for (char c : picked) {
    line.insert(std::lower_bound(line.begin(), line.end(), c), c);
    p.solution += line + "\n";
  }
  p.solution += boxed(p.answer);
  return p;
}

// Draws `count` problems of `domain` whose prompts are in neither `taken`
// nor each other, adding them to `taken`.
std::vector<SyntheticProblem> draw_distinct(const std::string& domain, int64_t count, std::mt19937_64& rng,
                                            std::unordered_set<std::string>& taken) {
  std::vector<SyntheticProblem> out;
  const int64_t max_tries = 50 * count + 1000;
  for (int64_t tries = 0; static_cast<int64_t>(out.size()) < count; ++tries) {
    TORCH_CHECK(tries < max_tries, "synthetic tasks: domain '", domain, "' ran out of distinct problems after ",
                out.size(), " of ", count, "; ask for fewer");
    auto p = make_synthetic_problem(domain, rng);
    if (taken.insert(p.prompt).second) out.push_back(std::move(p));
  }
  return out;
}

// `size` problems, the domains taking turns.
std::vector<SyntheticProblem> draw_split(const std::vector<std::string>& domains, int64_t size, std::mt19937_64& rng,
                                         std::unordered_set<std::string>& taken) {
  const auto n = static_cast<int64_t>(domains.size());
  std::vector<std::vector<SyntheticProblem>> per_domain;
  for (int64_t d = 0; d < n; ++d) per_domain.push_back(draw_distinct(domains[d], (size - d + n - 1) / n, rng, taken));
  std::vector<SyntheticProblem> out;
  for (int64_t i = 0; i < size; ++i) out.push_back(std::move(per_domain[i % n][i / n]));
  return out;
}

}  // namespace

const std::vector<std::string>& synthetic_domains() {
  static const std::vector<std::string> names = {"arith", "reverse", "sort"};
  return names;
}

SyntheticProblem make_synthetic_problem(const std::string& domain, std::mt19937_64& rng) {
  if (domain == "arith") return addition_chain(rng);
  if (domain == "reverse") return word_reversal(rng);
  if (domain == "sort") return letter_sort(rng);
  TORCH_CHECK(false, "synthetic tasks: unknown domain '", domain, "' (known: arith, reverse, sort)");
}

SyntheticSplits make_synthetic_splits(const SyntheticTaskSpec& spec) {
  TORCH_CHECK(!spec.domains.empty(), "synthetic tasks: no domains");
  TORCH_CHECK(spec.train_size > 0 && spec.test_size > 0, "synthetic tasks: train and test sizes must be > 0, got ",
              spec.train_size, " and ", spec.test_size);
  for (const auto& d : spec.domains) {
    TORCH_CHECK(std::count(spec.domains.begin(), spec.domains.end(), d) == 1, "synthetic tasks: domain '", d,
                "' is listed twice");
  }
  std::mt19937_64 rng(spec.seed);
  std::unordered_set<std::string> taken;
  SyntheticSplits splits;
  // Test first, so growing the training set never changes the test set.
  splits.test = draw_split(spec.domains, spec.test_size, rng, taken);
  splits.train = draw_split(spec.domains, spec.train_size, rng, taken);
  return splits;
}

std::string synthetic_problem_json(const SyntheticProblem& p) {
  return nlohmann::json{{"prompt", p.prompt}, {"solution", p.solution}, {"answer", p.answer}, {"domain", p.domain}}
      .dump();
}

void write_synthetic_jsonl(const std::vector<SyntheticProblem>& problems, const std::string& path) {
  std::string text;
  for (const auto& p : problems) text += synthetic_problem_json(p) + "\n";
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  write_file_atomically(path, text);
}

}  // namespace opd::data
