// The {name} placeholders of the text templates in configs/ (chat templates,
// refinement prompts).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace opd {

// `pattern` with each {name} replaced by its value, in one pass: a value that
// itself holds a placeholder stays as written; unknown braces stay too.
std::string fill_placeholders(const std::string& pattern,
                              const std::vector<std::pair<std::string, std::string>>& values);

}  // namespace opd
