// TRD's refinement prompt (configs/refinement/<name>.yaml): what the refiner
// reads to rewrite the student's first attempt, and, in OPSD mode, the
// privileged text (the reference solution) that the refiner and the teacher
// side read and the student never does.
#pragma once

#include <string>

namespace opd::data {

struct RefinementTemplate {
  std::string name;
  std::string prompt;      // with {problem}, {attempt} and {privileged}
  std::string privileged;  // with {solution}

  // Reads a template file; throws naming the file and key on an unknown key,
  // or a prompt without {problem} or {attempt}.
  static RefinementTemplate from_yaml(const std::string& path);

  // The refiner's message: the problem and the attempt, plus the privileged
  // text when `solution` is not empty (OPSD).
  std::string refinement_message(const std::string& problem, const std::string& attempt,
                                 const std::string& solution) const;
  // The teacher side's message in OPSD: the problem plus the privileged text.
  std::string privileged_problem(const std::string& problem, const std::string& solution) const;
};

// By file path or by name from configs/refinement (math, code).
RefinementTemplate find_refinement_template(const std::string& name_or_path);

}  // namespace opd::data
