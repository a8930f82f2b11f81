// Whole files read into memory: recipes, config.json, index files, suite
// files, results. (Writing one goes through core/atomic_file.h.)
#pragma once

#include <string>

namespace opd {

// The file's bytes. Throws "<path>: cannot read (<reason>)" when it cannot be
// opened or read, e.g. "No such file or directory" or "Is a directory".
std::string read_text_file(const std::string& path);

}  // namespace opd
