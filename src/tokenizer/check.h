// Private to src/tokenizer: one-line errors without LibTorch (the tokenizer
// layer depends on nothing above the standard library and its parsers).
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
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

// Ids are below 2^24, as config.json's vocab_size (model/model_config.cpp):
// an id past it would size the id table of the tokenizer (16 M entries).
constexpr int64_t kMaxVocabSize = int64_t{1} << 24;

// The token id `v` (a JSON value) at `where`, its JSON path in
// tokenizer.json ("tokenizer.json: model.vocab[\"hello\"]"); throws
// unless it is an integer in [0, 2^24).
template <typename Json>
int64_t token_id(const Json& v, const std::string& where) {
  if (!v.is_number_integer() || v.template get<int64_t>() < 0 || v.template get<int64_t>() >= kMaxVocabSize) {
    fail(where, ": a token id must be an integer in [0, ", kMaxVocabSize, "), got ", v.dump());
  }
  return v.template get<int64_t>();
}

}  // namespace opd::tokenizer
