#include "opd/data/solution_prefix.h"

#include <c10/util/Exception.h>

#include <algorithm>

namespace opd::data {
namespace {

SolutionPrefix common_prefix(std::string_view solution, std::string_view response) {
  const auto end = std::mismatch(solution.begin(), solution.end(), response.begin(), response.end());
  const auto n = static_cast<size_t>(end.second - response.begin());
  return {n, n == response.size() && n == solution.size()};
}

// The picked letters so far sorted, one more each line; `answer` holds the
// letters sorted, each once.
SolutionPrefix sort_prefix(const std::string& answer, std::string_view response) {
  std::string picked;  // the last complete line
  size_t at = 0;
  while (picked.size() < answer.size()) {
    const auto newline = response.find('\n', at);
    const auto line = response.substr(at, newline == std::string_view::npos ? std::string_view::npos : newline - at);
    // The longest prefix of `line` that picking one more letter writes.
    size_t longest = 0;
    std::string whole;  // the next line, when `line` is one
    for (char c : answer) {
      if (picked.find(c) != std::string::npos) continue;
      std::string candidate = picked;
      candidate.insert(std::lower_bound(candidate.begin(), candidate.end(), c), c);
      const auto prefix = common_prefix(candidate, line);
      longest = std::max(longest, prefix.valid_chars);
      if (prefix.complete) whole = candidate;
    }
    if (whole.empty() || newline == std::string_view::npos) return {at + longest, false};
    picked = whole;
    at = newline + 1;
  }
  auto rest = common_prefix("\\boxed{" + answer + "}", response.substr(at));
  return {at + rest.valid_chars, rest.complete};
}

}  // namespace

bool knows_solutions_of(std::string_view domain) {
  return domain == "arith" || domain == "reverse" || domain == "sort";
}

SolutionPrefix valid_solution_prefix(std::string_view domain, const std::string& solution, const std::string& answer,
                                     std::string_view response) {
  TORCH_CHECK(knows_solutions_of(domain), "valid_solution_prefix: no correct solutions known for domain '",
              std::string(domain), "' (known: arith, reverse, sort)");
  if (domain == "sort") return sort_prefix(answer, response);
  return common_prefix(solution, response);
}

}  // namespace opd::data
