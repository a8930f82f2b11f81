// JSON text from users' files (config.json, tokenizer.json, safetensors
// headers, dataset lines), parsed with the bounds every reader needs: a
// number past a double (1e400) or an integer past 64 bits is an error naming
// the key it follows, and nesting is limited (nlohmann's dump and every
// recursive reader would otherwise overflow the stack on 100000 '[').
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>

namespace opd {

constexpr int kMaxJsonDepth = 100;  // nested arrays and objects; real files use under 10

// Parses `text` into `out`. Returns "" on success, else what is wrong, for
// the caller to prefix with the file (and line): nlohmann's message with its
// line and column, or "number overflow parsing '1e400' (after key
// 'rope_theta')", or "arrays and objects nest deeper than 100 levels (after
// key 'messages')". Never throws for malformed text.
std::string parse_json_text(std::string_view text, nlohmann::json& out, int max_depth = kMaxJsonDepth);
std::string parse_json_text(std::string_view text, nlohmann::ordered_json& out, int max_depth = kMaxJsonDepth);

}  // namespace opd
