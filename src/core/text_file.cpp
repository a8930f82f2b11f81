#include "opd/core/text_file.h"

#include <c10/util/Exception.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace opd {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TORCH_CHECK(in, path, ": cannot read");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text_file_atomically(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  const std::string tmp = path + ".tmp";
  bool written = false;
  {
    std::ofstream out(tmp, std::ios::binary);
    if (out) {
      out << text;
      out.close();
      written = static_cast<bool>(out);
    }
  }
  if (!written) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    TORCH_CHECK(false, path, ": cannot write (through ", tmp, ")");
  }
  fs::rename(tmp, target);
}

}  // namespace opd
