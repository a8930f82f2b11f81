// How far a response follows a correct worked solution of a synthetic problem
// (data/synthetic_tasks.h): the premise metrics ask whether a token the
// teacher rejects was still on a correct path (a valid token) or the
// student's error.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace opd::data {

struct SolutionPrefix {
  size_t valid_chars = 0;  // the longest prefix of the response some correct solution begins with
  bool complete = false;   // that prefix is the whole response and a whole correct solution
};

// Whether valid_solution_prefix knows `domain`'s correct solutions.
bool knows_solutions_of(std::string_view domain);

// For arith and reverse the reference `solution` is the only correct one;
// for sort, any pick order of the letters of `answer` is. Throws when the
// domain is not one knows_solutions_of accepts.
SolutionPrefix valid_solution_prefix(std::string_view domain, const std::string& solution, const std::string& answer,
                                     std::string_view response);

}  // namespace opd::data
