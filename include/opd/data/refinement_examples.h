// SFT data for a refiner (TRD's teacher, which rewrites the student's
// attempts): the problems as they are, plus each problem once more as a
// refinement prompt, the problem with a faulty attempt, whose target is the
// correct solution. The refiner the papers use was trained to fix attempts;
// a teacher that never saw a refinement prompt does not (measured:
// refinement_gain -0.41 on the shared synthetic cast).
#pragma once

#include "opd/data/refinement_template.h"
#include "opd/data/synthetic_tasks.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace opd::data {

// An attempt at `solution` with the kinds of fault a student makes, drawn
// from `rng`: one digit or letter of it replaced by another of the same kind
// (a wrong step or answer), the solution cut short, or, one time in four, the
// solution itself (a right attempt, which the fix keeps).
std::string faulty_attempt(const std::string& solution, std::mt19937_64& rng);

// `problems`, then each of them as a refinement prompt of `refinement` (no
// privileged text) around faulty_attempt(solution), with the same solution,
// answer and domain. The same for the same seed.
std::vector<SyntheticProblem> with_refinement_examples(const std::vector<SyntheticProblem>& problems,
                                                       const RefinementTemplate& refinement, uint64_t seed);

}  // namespace opd::data
