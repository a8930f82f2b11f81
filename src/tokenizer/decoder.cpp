#include "decoder.h"

#include "byte_level.h"
#include "check.h"
#include "regex.h"
#include "utf8.h"

#include <nlohmann/json.hpp>

namespace opd::tokenizer {
namespace {

// The byte-level alphabet back to bytes, then to UTF-8 (malformed bytes,
// e.g. a sequence cut by the end of generation, become U+FFFD).
class ByteLevelDecoder final : public Decoder {
 public:
  std::vector<std::string> decode(std::vector<std::string> tokens) const override {
    std::string bytes;
    for (const auto& t : tokens) bytes += unicode_to_bytes(t);
    return {valid_utf8(bytes)};
  }
};

class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first) : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  std::vector<std::string> decode(std::vector<std::string> tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string s;
      const auto& t = tokens[i];
      for (size_t p = 0; p < t.size();) {
        if (t.compare(p, replacement_.size(), replacement_) == 0) {
          s += ' ';
          p += replacement_.size();
        } else {
          s += t[p++];
        }
      }
      if (i == 0 && strip_first_ && !s.empty() && s[0] == ' ') s.erase(0, 1);
      tokens[i] = std::move(s);
    }
    return tokens;
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

// <0xXX> tokens back to their bytes: a run of them that is valid UTF-8 is
// that text, any other run one U+FFFD per byte token (as tokenizers does).
class ByteFallback final : public Decoder {
 public:
  std::vector<std::string> decode(std::vector<std::string> tokens) const override {
    std::vector<std::string> out;
    std::string bytes;
    auto flush = [&] {
      if (bytes.empty()) return;
      if (is_valid_utf8(bytes)) {
        out.push_back(bytes);
      } else {
        out.insert(out.end(), bytes.size(), "\xEF\xBF\xBD");
      }
      bytes.clear();
    };
    for (auto& t : tokens) {
      unsigned value = 0;
      if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' &&
          std::sscanf(t.c_str() + 3, "%2x", &value) == 1) {
        bytes += static_cast<char>(value);
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    return out;
  }
};

class Fuse final : public Decoder {
 public:
  std::vector<std::string> decode(std::vector<std::string> tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    return {all};
  }
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(Regex pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  std::vector<std::string> decode(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) {
      std::string s;
      size_t last = 0;
      for (auto [b, e] : pattern_.find_all(t)) {
        s.append(t, last, b - last);
        s += content_;
        last = e;
      }
      s.append(t, last, std::string::npos);
      t = std::move(s);
    }
    return tokens;
  }

 private:
  Regex pattern_;
  std::string content_;
};

// Strip: up to `start` leading and `stop` trailing copies of `content` per token.
class Strip final : public Decoder {
 public:
  Strip(std::string content, int64_t start, int64_t stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  std::vector<std::string> decode(std::vector<std::string> tokens) const override {
    for (auto& t : tokens) {
      for (int64_t i = 0; i < start_ && t.compare(0, content_.size(), content_) == 0; ++i) t.erase(0, content_.size());
      for (int64_t i = 0; i < stop_ && t.size() >= content_.size() &&
                          t.compare(t.size() - content_.size(), content_.size(), content_) == 0;
           ++i) {
        t.erase(t.size() - content_.size());
      }
    }
    return tokens;
  }

 private:
  std::string content_;
  int64_t start_, stop_;
};

class DecoderSequence final : public Decoder {
 public:
  explicit DecoderSequence(std::vector<std::unique_ptr<Decoder>> steps) : steps_(std::move(steps)) {}
  std::vector<std::string> decode(std::vector<std::string> tokens) const override {
    for (const auto& step : steps_) tokens = step->decode(std::move(tokens));
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const nlohmann::json& spec, const std::string& where) {
  if (spec.is_null()) return nullptr;
  const std::string type = spec.value("type", "");
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace") {
    const std::string scheme = spec.value("prepend_scheme", spec.value("add_prefix_space", true) ? "always" : "never");
    return std::make_unique<MetaspaceDecoder>(spec.value("replacement", "\xE2\x96\x81"), scheme != "never");
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallback>();
  if (type == "Fuse") return std::make_unique<Fuse>();
  if (type == "Replace") {
    return std::make_unique<ReplaceDecoder>(pattern_from_json(spec.at("pattern"), where + ".pattern"),
                                     spec.at("content").get<std::string>());
  }
  if (type == "Strip") {
    return std::make_unique<Strip>(spec.at("content").get<std::string>(), spec.value("start", int64_t{0}),
                                   spec.value("stop", int64_t{0}));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    const auto& list = spec.at("decoders");
    for (size_t i = 0; i < list.size(); ++i) {
      if (auto d = make_decoder(list[i], where + ".decoders[" + std::to_string(i) + "]")) steps.push_back(std::move(d));
    }
    return std::make_unique<DecoderSequence>(std::move(steps));
  }
  fail(where, ": decoder type '", type,
              "' is not supported (supported: ByteLevel, Metaspace, ByteFallback, Fuse, Replace, "
              "Strip, Sequence)");
}

}  // namespace opd::tokenizer
