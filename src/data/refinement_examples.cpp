#include "opd/data/refinement_examples.h"

#include <cctype>

namespace opd::data {
namespace {

// Uniform in [0, n) by rejection (the standard distributions differ between
// implementations, and the data must not).
uint64_t below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x = rng();
  while (x >= limit) x = rng();
  return x % n;
}

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

}  // namespace

std::string faulty_attempt(const std::string& solution, std::mt19937_64& rng) {
  const uint64_t kind = below(rng, 4);
  if (kind == 0 || solution.size() < 2) return solution;
  if (kind == 1) return solution.substr(0, 1 + below(rng, solution.size() - 1));
  // The digits and letters of the worked steps and the answer, not of "\boxed".
  std::vector<size_t> places;
  const auto box = solution.rfind("\\boxed{");
  for (size_t i = 0; i < solution.size(); ++i) {
    const bool in_command = box != std::string::npos && i > box && i < box + 7;
    if (!in_command && (is_digit(solution[i]) || is_lower(solution[i]))) places.push_back(i);
  }
  if (places.empty()) return solution.substr(0, solution.size() / 2);
  std::string out = solution;
  char& c = out[places[below(rng, places.size())]];
  const char first = is_digit(c) ? '0' : 'a';
  const uint64_t kinds = is_digit(c) ? 10 : 26;
  c = static_cast<char>(first + (static_cast<uint64_t>(c - first) + 1 + below(rng, kinds - 1)) % kinds);
  return out;
}

std::vector<SyntheticProblem> with_refinement_examples(const std::vector<SyntheticProblem>& problems,
                                                       const RefinementTemplate& refinement, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<SyntheticProblem> out = problems;
  for (const auto& p : problems) {
    SyntheticProblem fix = p;
    fix.prompt = refinement.refinement_message(p.prompt, faulty_attempt(p.solution, rng), "");
    out.push_back(std::move(fix));
  }
  return out;
}

}  // namespace opd::data
