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

// Length of the well-formed UTF-8 sequence at s[i] (Unicode Table 3-7: no
// overlong forms, no surrogates, nothing above U+10FFFF), or minus the length
// of its longest well-formed prefix ("maximal subpart", at least 1) when the
// sequence is malformed or cut short.
inline int utf8_sequence_at(std::string_view s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) return 1;
  int n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return -1;  // a continuation byte, C0, C1 or F5..FF: never a lead
  }
  for (int k = 1; k < n; ++k) {
    if (i + k >= s.size()) return -k;
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return -k;
  }
  return n;
}

inline bool is_valid_utf8(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    const int n = utf8_sequence_at(bytes, i);
    if (n < 0) return false;
    i += static_cast<size_t>(n);
  }
  return true;
}

// `bytes` with each maximal malformed subpart replaced by one U+FFFD, as
// Rust's String::from_utf8_lossy (which Hugging Face tokenizers use) does.
inline std::string valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const int n = utf8_sequence_at(bytes, i);
    if (n > 0) {
      out.append(bytes.substr(i, static_cast<size_t>(n)));
      i += static_cast<size_t>(n);
    } else {
      append_utf8(out, 0xFFFD);
      i += static_cast<size_t>(-n);
    }
  }
  return out;
}

}  // namespace opd::tokenizer
