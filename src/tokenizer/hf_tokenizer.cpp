#include "opd/tokenizer/hf_tokenizer.h"

#include "added_tokens.h"
#include "bpe_model.h"
#include "check.h"
#include "decoder.h"
#include "normalizer.h"
#include "pre_tokenizer.h"
#include "opd/core/json_text.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace opd::tokenizer {

// What a post-processor adds around one sequence (TemplateProcessing's
// "single" template, Roberta/Bert's cls ... sep; ByteLevel adds nothing).
// Outside the anonymous namespace: HfTokenizer::Impl holds one.
struct SpecialAround {
  std::vector<int64_t> before, after;
};

namespace {

SpecialAround make_post_processor(const nlohmann::json& spec, const std::string& where) {
  SpecialAround around;
  if (spec.is_null()) return around;
  const std::string type = spec.value("type", "");
  if (type == "ByteLevel") return around;
  if (type == "TemplateProcessing") {
    bool seen_sequence = false;
    for (const auto& piece : spec.at("single")) {
      if (piece.contains("Sequence")) {
        seen_sequence = true;
        continue;
      }
      const auto name = piece.at("SpecialToken").at("id").get<std::string>();
      check(spec.at("special_tokens").contains(name), where, ": template token '", name,
            "' is not in special_tokens");
      const auto& ids = spec.at("special_tokens").at(name).at("ids");
      for (size_t i = 0; i < ids.size(); ++i) {
        (seen_sequence ? around.after : around.before)
            .push_back(token_id(ids[i], where + ".special_tokens[" + nlohmann::json(name).dump() + "].ids[" +
                                            std::to_string(i) + "]"));
      }
    }
    return around;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    around.before.push_back(token_id(spec.at("cls").at(1), where + ".cls[1]"));
    around.after.push_back(token_id(spec.at("sep").at(1), where + ".sep[1]"));
    return around;
  }
  if (type == "Sequence") {
    const auto& list = spec.at("processors");
    for (size_t i = 0; i < list.size(); ++i) {
      auto part = make_post_processor(list[i], where + ".processors[" + std::to_string(i) + "]");
      around.before.insert(around.before.end(), part.before.begin(), part.before.end());
      around.after.insert(around.after.begin(), part.after.begin(), part.after.end());
    }
    return around;
  }
  fail(where, ": post_processor type '", type,
       "' is not supported (supported: ByteLevel, TemplateProcessing, RobertaProcessing, "
       "BertProcessing, Sequence)");
}

}  // namespace

struct HfTokenizer::Impl {
  AddedTokens added;
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<BpeModel> model;
  SpecialAround post;
  std::unique_ptr<Decoder> decoder;
  std::vector<std::string> id_to_token;  // "" for ids nothing names
  std::vector<bool> special;
};

HfTokenizer::HfTokenizer() : impl_(std::make_unique<Impl>()) {}
HfTokenizer::~HfTokenizer() = default;

std::unique_ptr<HfTokenizer> HfTokenizer::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(in.is_open(), "tokenizer file '", path, "' cannot be opened");
  std::ostringstream text;
  text << in.rdbuf();
  check(!in.bad(), "tokenizer file '", path, "' cannot be read");
  return from_json_text(text.str(), path);
}

std::unique_ptr<HfTokenizer> HfTokenizer::from_json_text(const std::string& text, const std::string& path) {
  nlohmann::json j;
  const std::string error = parse_json_text(text, j);
  check(error.empty(), path, ": not valid JSON (", error, ")");
  std::unique_ptr<HfTokenizer> t(new HfTokenizer());
  auto& impl = *t->impl_;
  try {
    impl.added = AddedTokens(j.value("added_tokens", nlohmann::json::array()), path + ": added_tokens");
    impl.normalizer = make_normalizer(j.value("normalizer", nlohmann::json()), path + ": normalizer");
    impl.pre_tokenizer = make_pre_tokenizer(j.value("pre_tokenizer", nlohmann::json()), path + ": pre_tokenizer");
    check(j.contains("model"), path, ": has no \"model\"");
    impl.model = std::make_unique<BpeModel>(j.at("model"), path + ": model");
    impl.post = make_post_processor(j.value("post_processor", nlohmann::json()), path + ": post_processor");
    impl.decoder = make_decoder(j.value("decoder", nlohmann::json()), path + ": decoder");
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": unexpected content (", e.what(), ")");
  }
  int64_t size = 0;
  for (const auto& [token, id] : impl.model->vocab()) size = std::max(size, id + 1);
  for (const auto& a : impl.added.tokens()) size = std::max(size, a.id + 1);
  // What the post-processor adds must be a token (tokenizers refuses the file otherwise).
  for (const auto* ids : {&impl.post.before, &impl.post.after}) {
    for (int64_t id : *ids) {
      check(id < size, path, ": post_processor adds token id ", id, ", which is not in the vocabulary (", size,
            " ids)");
    }
  }
  impl.id_to_token.assign(static_cast<size_t>(size), "");
  impl.special.assign(static_cast<size_t>(size), false);
  for (const auto& [token, id] : impl.model->vocab()) impl.id_to_token[static_cast<size_t>(id)] = token;
  for (const auto& a : impl.added.tokens()) {
    impl.id_to_token[static_cast<size_t>(a.id)] = a.content;
    impl.special[static_cast<size_t>(a.id)] = a.special;
  }
  return t;
}

std::vector<int64_t> HfTokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const auto& impl = *impl_;
  std::vector<int64_t> ids;
  if (add_special_tokens) ids = impl.post.before;
  for (const auto& segment : impl.added.split(text)) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    std::string normalized = impl.normalizer ? impl.normalizer->normalize(segment.text)
                                             : std::string(segment.text);
    std::vector<std::string> words{std::move(normalized)};
    if (impl.pre_tokenizer) words = impl.pre_tokenizer->split(std::move(words));
    for (const auto& word : words) impl.model->encode_word(word, ids);
  }
  if (add_special_tokens) ids.insert(ids.end(), impl.post.after.begin(), impl.post.after.end());
  return ids;
}

std::string HfTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  const auto& impl = *impl_;
  // Added tokens go through the decoder with the others, as in tokenizers:
  // a Strip or Metaspace step sees them in place.
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) {
    if (id >= vocab_size()) continue;
    std::string token = id_to_token(id);
    const auto* added = impl.added.find(id);
    if (!(skip_special && added != nullptr && added->special)) tokens.push_back(std::move(token));
  }
  std::string text;
  if (!impl.decoder) {  // tokenizers joins the tokens with spaces
    for (size_t i = 0; i < tokens.size(); ++i) text += (i ? " " : "") + tokens[i];
    return text;
  }
  for (const auto& piece : impl.decoder->decode(std::move(tokens))) text += piece;
  return text;
}

int64_t HfTokenizer::vocab_size() const { return static_cast<int64_t>(impl_->id_to_token.size()); }

std::optional<int64_t> HfTokenizer::token_to_id(std::string_view token) const {
  for (const auto& a : impl_->added.tokens()) {
    if (a.content == token) return a.id;
  }
  auto it = impl_->model->vocab().find(std::string(token));
  if (it == impl_->model->vocab().end()) return std::nullopt;
  return it->second;
}

std::string HfTokenizer::id_to_token(int64_t id) const {
  check(id >= 0 && id < vocab_size(), "token id ", id, " is outside the vocabulary [0, ", vocab_size(), ")");
  return impl_->id_to_token[static_cast<size_t>(id)];
}

bool HfTokenizer::is_special(int64_t id) const {
  return id >= 0 && id < vocab_size() && impl_->special[static_cast<size_t>(id)];
}

}  // namespace opd::tokenizer
