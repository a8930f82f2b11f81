#include "added_tokens.h"

#include "check.h"

#include <nlohmann/json.hpp>

#include <cctype>

namespace opd::tokenizer {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_word_byte(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (static_cast<unsigned char>(c) & 0x80);
}

}  // namespace

AddedTokens::AddedTokens(const nlohmann::json& list, const std::string& where) {
  check(list.is_array(), where, " must be a list, got ", list.type_name());
  for (size_t i = 0; i < list.size(); ++i) {
    const auto& t = list[i];
    AddedToken token;
    token.content = t.at("content").get<std::string>();
    token.id = token_id(t.at("id"), where + "[" + std::to_string(i) + "].id");
    token.special = t.value("special", false);
    token.lstrip = t.value("lstrip", false);
    token.rstrip = t.value("rstrip", false);
    token.single_word = t.value("single_word", false);
    if (token.content.empty()) continue;
    const int32_t index = static_cast<int32_t>(tokens_.size());
    by_id_[token.id] = tokens_.size();
    int32_t node = 0;
    for (unsigned char c : token.content) {
      auto it = trie_[node].find(c);
      if (it == trie_[node].end()) {
        trie_[node][c] = static_cast<int32_t>(trie_.size());
        node = static_cast<int32_t>(trie_.size());
        trie_.emplace_back();
        ends_.push_back(-1);
      } else {
        node = it->second;
      }
    }
    ends_[node] = index;
    tokens_.push_back(std::move(token));
  }
}

const AddedToken* AddedTokens::find(int64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::vector<Segment> AddedTokens::split(std::string_view text) const {
  std::vector<Segment> out;
  size_t plain = 0;  // start of the text not yet emitted
  size_t i = 0;
  while (i < text.size()) {
    // The longest token starting at i.
    int32_t node = 0, found = -1;
    size_t found_end = 0;
    for (size_t j = i; j < text.size(); ++j) {
      auto it = trie_[node].find(static_cast<unsigned char>(text[j]));
      if (it == trie_[node].end()) break;
      node = it->second;
      if (ends_[node] >= 0) found = ends_[node], found_end = j + 1;
    }
    if (found >= 0) {
      const auto& t = tokens_[static_cast<size_t>(found)];
      const bool word_before = i > 0 && is_word_byte(text[i - 1]);
      const bool word_after = found_end < text.size() && is_word_byte(text[found_end]);
      if (!t.single_word || (!word_before && !word_after)) {
        size_t begin = i, end = found_end;
        if (t.lstrip) while (begin > plain && is_space(text[begin - 1])) --begin;
        if (t.rstrip) while (end < text.size() && is_space(text[end])) ++end;
        if (begin > plain) out.push_back({text.substr(plain, begin - plain), -1});
        out.push_back({std::string_view(), t.id});
        plain = i = end;
        continue;
      }
    }
    ++i;
  }
  if (plain < text.size()) out.push_back({text.substr(plain), -1});
  return out;
}

}  // namespace opd::tokenizer
