// Private to src/tokenizer: tokenizer.json "normalizer" components (NFC,
// NFKC, Lowercase, Prepend, Replace, Sequence, ...), applied to text before
// it is split into words.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace opd::tokenizer {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string normalize(std::string_view text) const = 0;
};

// The normalizer `spec` describes (null: none, returns nullptr). Throws naming
// `where` and the component type when it is not supported.
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& spec, const std::string& where);

}  // namespace opd::tokenizer
