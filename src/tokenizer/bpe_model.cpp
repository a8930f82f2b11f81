#include "bpe_model.h"

#include "check.h"
#include "utf8.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <limits>

namespace opd::tokenizer {
namespace {

constexpr size_t kCacheLimit = 1 << 18;  // words; the cache is dropped when it grows past this

uint64_t pair_key(int64_t left, int64_t right) {
  return (static_cast<uint64_t>(left) << 32) | static_cast<uint32_t>(right);
}

}  // namespace

BpeModel::BpeModel(const nlohmann::json& spec, const std::string& where) {
  check(spec.value("type", "BPE") == "BPE", where, ": model type '", spec.value("type", ""),
              "' is not supported (supported: BPE)");
  // (check() formats its message eagerly: nothing in it may throw.)
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const auto value = spec.value(affix, nlohmann::json());
    check(value.is_null() || (value.is_string() && value.get<std::string>().empty()), where, ".",
          affix, " = ", value.dump(), " is not supported (only empty)");
  }
  const auto dropout = spec.value("dropout", nlohmann::json());
  check(dropout.is_null() || (dropout.is_number() && dropout.get<double>() == 0), where,
        ".dropout is not supported (BPE dropout is for training tokenizers)");
  ignore_merges_ = spec.value("ignore_merges", false);
  byte_fallback_ = spec.value("byte_fallback", false);
  fuse_unk_ = spec.value("fuse_unk", false);
  check(spec.at("vocab").is_object(), where, ".vocab must be an object, got ", spec.at("vocab").type_name());
  for (const auto& [token, id] : spec.at("vocab").items()) {
    vocab_.emplace(token, token_id(id, where + ".vocab[" + nlohmann::json(token).dump() + "]"));
  }
  if (spec.contains("unk_token") && spec.at("unk_token").is_string()) {
    auto it = vocab_.find(spec.at("unk_token").get<std::string>());
    if (it != vocab_.end()) unk_id_ = it->second;
  }
  const auto& merges = spec.at("merges");
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    std::string left, right;
    if (merges[rank].is_array()) {  // ["a", "b"] (newer files)
      left = merges[rank].at(0).get<std::string>();
      right = merges[rank].at(1).get<std::string>();
    } else {  // "a b"
      const auto text = merges[rank].get<std::string>();
      const auto space = text.find(' ', 1);
      check(space != std::string::npos, where, ".merges[", rank, "]: expected \"a b\", got \"", text, "\"");
      left = text.substr(0, space);
      right = text.substr(space + 1);
    }
    auto l = vocab_.find(left), r = vocab_.find(right), m = vocab_.find(left + right);
    check(l != vocab_.end() && r != vocab_.end() && m != vocab_.end(), where, ".merges[", rank,
                "]: \"", left, "\" + \"", right, "\" is not in the vocabulary");
    merges_.emplace(pair_key(l->second, r->second),
                    std::make_pair(static_cast<int32_t>(rank), m->second));
  }
}

void BpeModel::merge(std::vector<int64_t>& symbols) const {
  // Repeatedly merge the adjacent pair of lowest rank (the leftmost on ties),
  // as the merges were learnt.
  while (symbols.size() > 1) {
    int32_t best_rank = std::numeric_limits<int32_t>::max();
    size_t best = 0;
    int64_t merged = -1;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = merges_.find(pair_key(symbols[i], symbols[i + 1]));
      if (it != merges_.end() && it->second.first < best_rank) {
        best_rank = it->second.first;
        best = i;
        merged = it->second.second;
      }
    }
    if (merged < 0) return;
    symbols[best] = merged;
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
  }
}

void BpeModel::encode_word(std::string_view word, std::vector<int64_t>& out) const {
  if (word.empty()) return;
  const std::string key(word);
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int64_t> ids;
  auto whole = ignore_merges_ ? vocab_.find(key) : vocab_.end();
  if (whole != vocab_.end()) {
    ids.push_back(whole->second);
  } else {
    // One symbol per character; characters outside the vocabulary become
    // their UTF-8 bytes as <0xXX> tokens (byte fallback) or the unknown token.
    for (size_t i = 0; i < word.size();) {
      const size_t start = i;
      next_code_point(word, i);
      const std::string ch(word.substr(start, i - start));
      auto it = vocab_.find(ch);
      if (it != vocab_.end()) {
        ids.push_back(it->second);
        continue;
      }
      if (byte_fallback_) {
        std::vector<int64_t> bytes;
        for (unsigned char b : ch) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>", b);
          auto byte = vocab_.find(name);
          if (byte == vocab_.end()) break;
          bytes.push_back(byte->second);
        }
        if (bytes.size() == ch.size()) {
          ids.insert(ids.end(), bytes.begin(), bytes.end());
          continue;
        }
      }
      check(unk_id_.has_value(), "BPE: the character '", ch,
                  "' is not in the vocabulary and the tokenizer has no unk_token");
      if (!(fuse_unk_ && !ids.empty() && ids.back() == *unk_id_)) ids.push_back(*unk_id_);
    }
    merge(ids);
  }
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_mutex_);
  if (cache_.size() >= kCacheLimit) cache_.clear();
  cache_.emplace(key, std::move(ids));
}

}  // namespace opd::tokenizer
