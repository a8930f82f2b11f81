// Private to src/tokenizer: UTF-8 code point stepping and encoding.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace opd::tokenizer {

// Byte length of the UTF-8 sequence starting with `lead` (1 for a stray
// continuation or invalid byte, so iteration always advances).
inline int utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;
}

// The code point at s[i] (U+FFFD for a malformed sequence); advances i.
inline char32_t next_code_point(std::string_view s, size_t& i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const int n = utf8_length(lead);
  if (n == 1 || i + n > s.size()) {
    ++i;
    return lead < 0x80 ? lead : 0xFFFD;
  }
  char32_t cp = lead & (0x7F >> n);
  for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return cp;
}

inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Replaces malformed UTF-8 with U+FFFD, as a lenient decoder does.
inline std::string valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const auto lead = static_cast<unsigned char>(bytes[i]);
    const int n = utf8_length(lead);
    bool ok = (n > 1 || lead < 0x80) && i + n <= bytes.size();
    for (int k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(bytes[i + k]) & 0xC0) == 0x80;
    if (ok) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      append_utf8(out, 0xFFFD);
      ++i;
    }
  }
  return out;
}

}  // namespace opd::tokenizer
