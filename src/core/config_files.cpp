#include "opd/core/config_files.h"

#include "opd/core/install_paths.h"

#include <filesystem>
#include <stdexcept>
#include <vector>

namespace opd {

std::string find_config_file(const std::string& kind, const std::string& name_or_path) {
  namespace fs = std::filesystem;
  if (fs::is_regular_file(name_or_path)) return name_or_path;
  const std::string file = name_or_path + ".yaml";
  std::string tried;
  std::vector<std::string> roots = {"configs"};
  for (auto& root : shipped_paths(OPD_SOURCE_CONFIG_DIR, OPD_INSTALL_CONFIG_REL, OPD_INSTALL_CONFIG_DIR)) {
    roots.push_back(std::move(root));
  }
  for (const auto& root : roots) {
    const auto candidate = fs::path(root) / kind / file;
    if (fs::is_regular_file(candidate)) return candidate.string();
    tried += " " + candidate.string();
  }
  throw std::runtime_error(kind + " '" + name_or_path + "' is neither a file nor a known name (tried:" + tried + ")");
}

}  // namespace opd
