#include "opd/core/placeholders.h"

namespace opd {

std::string fill_placeholders(const std::string& pattern,
                              const std::vector<std::pair<std::string, std::string>>& values) {
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    bool replaced = false;
    for (const auto& [name, value] : values) {
      const std::string key = "{" + name + "}";
      if (pattern.compare(i, key.size(), key) == 0) {
        out += value;
        i += key.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out += pattern[i++];
  }
  return out;
}

}  // namespace opd
