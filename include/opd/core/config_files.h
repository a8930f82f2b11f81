// Named configuration files shipped in configs/ (chat templates, refinement
// prompts): a name is looked up in ./configs/<kind>, then where shipped files
// are (core/install_paths.h): the source tree's configs/ for programs run from
// the build tree, else the binary's prefix's share/opd/<kind>.
#pragma once

#include <string>

namespace opd {

// `name_or_path` itself when it is a file, else <dir>/<kind>/<name>.yaml from
// the first directory that has it. Throws naming everything tried.
std::string find_config_file(const std::string& kind, const std::string& name_or_path);

}  // namespace opd
