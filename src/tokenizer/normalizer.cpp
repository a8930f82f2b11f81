#include "normalizer.h"

#include "check.h"
#include "regex.h"
#include "utf8.h"

#include <nlohmann/json.hpp>
#include <utf8proc.h>

#include <vector>

namespace opd::tokenizer {
namespace {

// Unicode normalisation forms through utf8proc.
class UnicodeForm final : public Normalizer {
 public:
  explicit UnicodeForm(utf8proc_option_t options) : options_(options) {}
  std::string normalize(std::string_view text) const override {
    utf8proc_uint8_t* out = nullptr;
    const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                static_cast<utf8proc_ssize_t>(text.size()), &out, options_);
    if (n < 0) return valid_utf8(text);  // malformed input: leave it (made valid) as it is
    std::string result(reinterpret_cast<char*>(out), static_cast<size_t>(n));
    std::free(out);
    return result;
  }

 private:
  utf8proc_option_t options_;
};

class Lowercase final : public Normalizer {
 public:
  std::string normalize(std::string_view text) const override {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) append_utf8(out, utf8proc_tolower(next_code_point(text, i)));
    return out;
  }
};

class Prepend final : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string normalize(std::string_view text) const override {
    return text.empty() ? std::string() : prefix_ + std::string(text);
  }

 private:
  std::string prefix_;
};

// Replace: every match of a literal or a regex by `content`.
class Replace final : public Normalizer {
 public:
  Replace(Regex pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  std::string normalize(std::string_view text) const override {
    std::string out;
    size_t last = 0;
    for (auto [b, e] : pattern_.find_all(text)) {
      out.append(text.substr(last, b - last));
      out += content_;
      last = e;
    }
    out.append(text.substr(last));
    return out;
  }

 private:
  Regex pattern_;
  std::string content_;
};

class NormalizerSequence final : public Normalizer {
 public:
  explicit NormalizerSequence(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  std::string normalize(std::string_view text) const override {
    std::string s(text);
    for (const auto& step : steps_) s = step->normalize(s);
    return s;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& spec, const std::string& where) {
  if (spec.is_null()) return nullptr;
  const std::string type = spec.value("type", "");
  const auto form = [](int options) {
    return std::make_unique<UnicodeForm>(static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
  };
  if (type == "NFC") return form(UTF8PROC_COMPOSE);
  if (type == "NFD") return form(UTF8PROC_DECOMPOSE);
  if (type == "NFKC") return form(UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  if (type == "NFKD") return form(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "Prepend") return std::make_unique<Prepend>(spec.at("prepend").get<std::string>());
  if (type == "Replace") {
    return std::make_unique<Replace>(pattern_from_json(spec.at("pattern"), where + ".pattern"),
                                     spec.at("content").get<std::string>());
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> steps;
    const auto& list = spec.at("normalizers");
    for (size_t i = 0; i < list.size(); ++i) {
      if (auto n = make_normalizer(list[i], where + ".normalizers[" + std::to_string(i) + "]")) {
        steps.push_back(std::move(n));
      }
    }
    return std::make_unique<NormalizerSequence>(std::move(steps));
  }
  fail(where, ": normalizer type '", type,
              "' is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, "
              "Sequence)");
}

}  // namespace opd::tokenizer
