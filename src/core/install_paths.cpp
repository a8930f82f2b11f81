#include "opd/core/install_paths.h"

#include <filesystem>
#include <system_error>

namespace opd {
namespace fs = std::filesystem;

std::string program_dir() {
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

bool running_from_build_tree() {
  // Where the build puts programs: the tools and benchmarks in bin/, the test suites in tests/.
  const auto dir = fs::path(program_dir()).lexically_normal();
  const auto build = fs::path(OPD_BUILD_DIR).lexically_normal();
  return dir == build / "bin" || dir == build / "tests";
}

std::vector<std::string> shipped_paths(const std::string& build_tree_path, const std::string& install_relative,
                                       const std::string& install_absolute) {
  std::vector<std::string> out;
  if (running_from_build_tree()) out.push_back(build_tree_path);
  const auto dir = program_dir();
  if (!dir.empty()) out.push_back((fs::path(dir).parent_path() / install_relative).lexically_normal().string());
  if (out.empty() || out.back() != install_absolute) out.push_back(install_absolute);
  return out;
}

}  // namespace opd
