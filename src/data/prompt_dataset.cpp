#include "opd/data/prompt_dataset.h"

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <random>

namespace opd::data {
namespace {

// A non-empty JSON list of token ids; errors name the line and the key.
std::vector<int64_t> read_ids(const nlohmann::json& list, const char* key,
                              const std::string& where) {
  TORCH_CHECK(list.is_array() && !list.empty(), where, ": '", key,
              "' must be a non-empty list of token ids");
  std::vector<int64_t> ids;
  ids.reserve(list.size());
  for (const auto& id : list) {
    TORCH_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0, where, ": '", key, "' holds ",
                id.dump(), ", not a token id");
    ids.push_back(id.get<int64_t>());
  }
  return ids;
}

}  // namespace

PromptDataset PromptDataset::from_jsonl(const std::string& path) {
  std::ifstream in(path);
  TORCH_CHECK(in.is_open(), "prompt file '", path, "' cannot be opened");
  PromptDataset ds;
  ds.path_ = path;
  std::string text;
  int64_t line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      TORCH_CHECK(false, where, ": not valid JSON (", e.what(), ")");
    }
    TORCH_CHECK(j.is_object(), where, ": expected a JSON object");
    TORCH_CHECK(j.contains("prompt_ids"), where, ": missing 'prompt_ids' (a list of token ids)");
    Prompt p;
    p.line = line;
    p.ids = read_ids(j.at("prompt_ids"), "prompt_ids", where);
    if (j.contains("response_ids")) {
      p.response_ids = read_ids(j.at("response_ids"), "response_ids", where);
    }
    ds.prompts_.push_back(std::move(p));
  }
  TORCH_CHECK(!ds.prompts_.empty(), "prompt file '", path, "' holds no prompts");
  return ds;
}

PromptDataset PromptDataset::from_prompts(std::vector<Prompt> prompts) {
  PromptDataset ds;
  ds.prompts_ = std::move(prompts);
  return ds;
}

void PromptDataset::check_vocab(int64_t vocab_size, const std::string& what) const {
  for (const auto& p : prompts_) {
    for (const auto* ids : {&p.ids, &p.response_ids}) {
      for (int64_t id : *ids) {
        TORCH_CHECK(id < vocab_size, path_, ":", p.line, ": token id ", id, " is outside the ",
                    what, " vocabulary of ", vocab_size);
      }
    }
  }
}

PromptSampler::PromptSampler(int64_t dataset_size, uint64_t seed, bool shuffle)
    : size_(dataset_size), seed_(seed), shuffle_(shuffle) {
  TORCH_CHECK(dataset_size > 0, "PromptSampler: empty dataset");
}

void PromptSampler::start_epoch() {
  ++epoch_;
  cursor_ = 0;
  order_.resize(static_cast<size_t>(size_));
  std::iota(order_.begin(), order_.end(), 0);
  if (shuffle_) {
    // A fresh engine per epoch, so an epoch's order depends only on (seed, epoch).
    std::mt19937_64 rng(seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch_));
    for (int64_t i = size_ - 1; i > 0; --i) {
      std::uniform_int_distribution<int64_t> pick(0, i);
      std::swap(order_[i], order_[pick(rng)]);
    }
  }
}

std::vector<int64_t> PromptSampler::next(int64_t n) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(n));
  while (static_cast<int64_t>(out.size()) < n) {
    if (epoch_ < 0 || cursor_ == size_) start_epoch();
    out.push_back(order_[static_cast<size_t>(cursor_++)]);
  }
  return out;
}

}  // namespace opd::data
