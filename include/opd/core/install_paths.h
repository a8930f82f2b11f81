// Where files shipped with opd (chat templates, refinement prompts, the
// SentencePiece module) are, for the program running: beside the binary in
// an installed prefix (<prefix>/bin/../share/opd, wherever the prefix was
// moved), then the prefix configured at build time; and, only for programs
// that run from the build tree, the source and build trees.
#pragma once

#include <string>
#include <vector>

namespace opd {

// The running program's directory (/proc/self/exe's).
std::string program_dir();

// Whether the running program is one the build put in its bin/ or tests/
// (the tools, benchmarks and tests before `cmake --install`).
bool running_from_build_tree();

// Candidate paths of one shipped file or directory, in the order to try:
// `build_tree_path` when running from the build tree; then
// <program_dir>/../<install_relative>; then `install_absolute`.
std::vector<std::string> shipped_paths(const std::string& build_tree_path, const std::string& install_relative,
                                       const std::string& install_absolute);

}  // namespace opd
