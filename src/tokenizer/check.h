// Private to src/tokenizer: one-line errors without LibTorch (the tokenizer
// layer depends on nothing above the standard library and its parsers).
#pragma once

#include <sstream>
#include <stdexcept>
#include <utility>

namespace opd::tokenizer {

// Throws std::runtime_error with the parts of the message concatenated.
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream message;
  (message << ... << parts);
  throw std::runtime_error(message.str());
}

// fail(parts...) unless `condition`; the parts are only formatted on failure.
template <typename... Parts>
void check(bool condition, const Parts&... parts) {
  if (!condition) fail(parts...);
}

}  // namespace opd::tokenizer
