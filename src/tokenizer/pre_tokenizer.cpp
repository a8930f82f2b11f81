#include "pre_tokenizer.h"

#include "byte_level.h"
#include "check.h"
#include "regex.h"

#include <nlohmann/json.hpp>

namespace opd::tokenizer {
namespace {

// Split on a pattern: "Isolated" keeps matches and the text between them as
// pieces, "Removed" drops the matches.
class Split final : public PreTokenizer {
 public:
  Split(Regex pattern, bool keep_matches) : pattern_(std::move(pattern)), keep_matches_(keep_matches) {}
  std::vector<std::string> split(std::vector<std::string> pieces) const override {
    std::vector<std::string> out;
    for (const auto& piece : pieces) {
      size_t last = 0;
      for (auto [b, e] : pattern_.find_all(piece)) {
        if (b > last) out.push_back(piece.substr(last, b - last));
        if (keep_matches_) out.push_back(piece.substr(b, e - b));
        last = e;
      }
      if (last < piece.size()) out.push_back(piece.substr(last));
    }
    return out;
  }

 private:
  Regex pattern_;
  bool keep_matches_;
};

// GPT-2's byte-level step: optionally a leading space and GPT-2's own split,
// then every byte as its printable code point.
class ByteLevel final : public PreTokenizer {
 public:
  ByteLevel(bool add_prefix_space, bool use_regex, const std::string& where)
      : add_prefix_space_(add_prefix_space) {
    if (use_regex) {
      gpt2_ = std::make_unique<Regex>(
          R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", where);
    }
  }
  std::vector<std::string> split(std::vector<std::string> pieces) const override {
    if (add_prefix_space_ && !pieces.empty() && !pieces[0].empty() && pieces[0][0] != ' ') {
      pieces[0] = " " + pieces[0];
    }
    std::vector<std::string> out;
    for (const auto& piece : pieces) {
      if (!gpt2_) {
        out.push_back(bytes_to_unicode(piece));
        continue;
      }
      for (auto [b, e] : gpt2_->find_all(piece)) out.push_back(bytes_to_unicode(piece.substr(b, e - b)));
    }
    return out;
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> gpt2_;
};

// SentencePiece-style: spaces become `replacement` (U+2581), optionally one
// in front, and the text splits before each.
class Metaspace final : public PreTokenizer {
 public:
  Metaspace(std::string replacement, std::string prepend_scheme, bool split)
      : replacement_(std::move(replacement)), prepend_(std::move(prepend_scheme)), split_(split) {}
  std::vector<std::string> split(std::vector<std::string> pieces) const override {
    std::vector<std::string> out;
    for (size_t p = 0; p < pieces.size(); ++p) {
      std::string s;
      for (char c : pieces[p]) {
        if (c == ' ') s += replacement_;
        else s += c;
      }
      const bool prepend = prepend_ == "always" || (prepend_ == "first" && p == 0);
      if (prepend && s.compare(0, replacement_.size(), replacement_) != 0) s = replacement_ + s;
      if (!split_) {
        out.push_back(s);
        continue;
      }
      size_t start = 0;
      for (size_t i = replacement_.size(); i <= s.size(); ++i) {
        if (i == s.size() || s.compare(i, replacement_.size(), replacement_) == 0) {
          if (i > start) out.push_back(s.substr(start, i - start));
          start = i;
        }
      }
    }
    return out;
  }

 private:
  std::string replacement_, prepend_;
  bool split_;
};

class PreTokenizerSequence final : public PreTokenizer {
 public:
  explicit PreTokenizerSequence(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  std::vector<std::string> split(std::vector<std::string> pieces) const override {
    for (const auto& step : steps_) pieces = step->split(std::move(pieces));
    return pieces;
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec, const std::string& where) {
  if (spec.is_null()) return nullptr;
  const std::string type = spec.value("type", "");
  if (type == "Split") {
    const std::string behavior = spec.value("behavior", "Isolated");
    check(!spec.value("invert", false), where, ": Split with invert = true is not supported");
    check(behavior == "Isolated" || behavior == "Removed", where, ": Split behavior '",
                behavior, "' is not supported (supported: Isolated, Removed)");
    return std::make_unique<Split>(pattern_from_json(spec.at("pattern"), where + ".pattern"),
                                   behavior == "Isolated");
  }
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevel>(spec.value("add_prefix_space", false),
                                       spec.value("use_regex", true), where);
  }
  if (type == "Metaspace") {
    std::string scheme = spec.value("prepend_scheme", "");
    if (scheme.empty()) scheme = spec.value("add_prefix_space", true) ? "always" : "never";
    return std::make_unique<Metaspace>(spec.value("replacement", "\xE2\x96\x81"), scheme,
                                       spec.value("split", true));
  }
  if (type == "Digits") {
    const std::string digits = spec.value("individual_digits", false) ? R"(\p{Nd})" : R"(\p{Nd}+)";
    return std::make_unique<Split>(Regex(digits, where), /*keep_matches=*/true);
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    const auto& list = spec.at("pretokenizers");
    for (size_t i = 0; i < list.size(); ++i) {
      if (auto p = make_pre_tokenizer(list[i], where + ".pretokenizers[" + std::to_string(i) + "]")) {
        steps.push_back(std::move(p));
      }
    }
    return std::make_unique<PreTokenizerSequence>(std::move(steps));
  }
  fail(where, ": pre_tokenizer type '", type,
              "' is not supported (supported: Split, ByteLevel, Metaspace, Digits, Sequence)");
}

}  // namespace opd::tokenizer
