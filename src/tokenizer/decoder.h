// Private to src/tokenizer: tokenizer.json "decoder" components (ByteLevel,
// Metaspace, ByteFallback, Fuse, Replace, Strip, Sequence), which turn token
// strings back into text.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <vector>

namespace opd::tokenizer {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Token strings -> text pieces, to be concatenated.
  virtual std::vector<std::string> decode(std::vector<std::string> tokens) const = 0;
};

// The decoder `spec` describes (null: none, returns nullptr). Throws naming
// `where` and the component type when it is not supported.
std::unique_ptr<Decoder> make_decoder(const nlohmann::json& spec, const std::string& where);

}  // namespace opd::tokenizer
