#include "byte_level_bpe_json.h"

#include "byte_level.h"

#include <nlohmann/json.hpp>

#include <cstdint>

namespace opd::tokenizer {

nlohmann::json split_pre_tokenizer(const std::string& pattern) {
  return {{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}};
}

namespace {

nlohmann::json split_then(const std::string& pattern, const nlohmann::json& next) {
  return {{"type", "Sequence"}, {"pretokenizers", nlohmann::json::array({split_pre_tokenizer(pattern), next})}};
}

}  // namespace

std::string byte_level_bpe_json(const std::vector<std::string>& tokens,
                                const std::vector<std::pair<std::string, std::string>>& merges,
                                const std::string& split_pattern) {
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t i = 0; i < tokens.size(); ++i) vocab[bytes_to_unicode(tokens[i])] = static_cast<int64_t>(i);
  nlohmann::json merge_list = nlohmann::json::array();
  for (const auto& [left, right] : merges) merge_list.push_back({bytes_to_unicode(left), bytes_to_unicode(right)});
  nlohmann::json added = nlohmann::json::array();
  auto id = static_cast<int64_t>(tokens.size());
  for (const char* special : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    added.push_back({{"id", id++}, {"content", special}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  }
  // Every field written out: `tokenizers` has no defaults for them.
  const nlohmann::json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}};
  nlohmann::json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", split_pattern.empty() ? byte_level : split_then(split_pattern, byte_level)},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
        {"vocab", vocab}, {"merges", merge_list}}},
  };
  return j.dump(1);
}

}  // namespace opd::tokenizer
