#include "byte_level.h"

#include "utf8.h"

#include <array>
#include <unordered_map>

namespace opd::tokenizer {
namespace {

struct ByteMap {
  std::array<std::string, 256> to_unicode;
  std::unordered_map<char32_t, unsigned char> to_byte;

  ByteMap() {
    // Printable Latin-1 bytes map to themselves; the other 68 to U+0100 upwards.
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const char32_t cp = printable(b) ? static_cast<char32_t>(b) : next++;
      append_utf8(to_unicode[b], cp);
      to_byte[cp] = static_cast<unsigned char>(b);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap map;
  return map;
}

}  // namespace

std::string bytes_to_unicode(std::string_view bytes) {
  const auto& map = byte_map();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += map.to_unicode[b];
  return out;
}

std::string unicode_to_bytes(std::string_view mapped) {
  const auto& map = byte_map();
  std::string out;
  out.reserve(mapped.size());
  for (size_t i = 0; i < mapped.size();) {
    auto it = map.to_byte.find(next_code_point(mapped, i));
    if (it == map.to_byte.end()) return std::string(mapped);
    out += static_cast<char>(it->second);
  }
  return out;
}

}  // namespace opd::tokenizer
