#include "opd/core/config_files.h"

#include <filesystem>
#include <stdexcept>

namespace opd {

std::string find_config_file(const std::string& kind, const std::string& name_or_path) {
  namespace fs = std::filesystem;
  if (fs::is_regular_file(name_or_path)) return name_or_path;
  const std::string file = name_or_path + ".yaml";
  std::string tried;
  for (const fs::path& root : {fs::path("configs"), fs::path(OPD_SOURCE_CONFIG_DIR), fs::path(OPD_INSTALL_CONFIG_DIR)}) {
    const auto candidate = root / kind / file;
    if (fs::is_regular_file(candidate)) return candidate.string();
    tried += " " + candidate.string();
  }
  throw std::runtime_error(kind + " '" + name_or_path + "' is neither a file nor a known name (tried:" + tried + ")");
}

}  // namespace opd
