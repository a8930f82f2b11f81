// Private to src/tokenizer: tokenizer.json "pre_tokenizer" components
// (Split by regex, ByteLevel, Metaspace, Digits, Sequence), which cut
// normalised text into the words BPE merges within.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <vector>

namespace opd::tokenizer {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits (or maps) every piece of one text segment (the text between two
  // added tokens); Metaspace's "first" scheme prepends to pieces[0] only.
  virtual std::vector<std::string> split(std::vector<std::string> pieces) const = 0;
};

// The pre-tokenizer `spec` describes (null: none, returns nullptr). Throws
// naming `where` and the component (or option) when it is not supported.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec, const std::string& where);

}  // namespace opd::tokenizer
