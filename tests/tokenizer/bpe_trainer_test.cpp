// The BPE trainer against a plain re-implementation of the algorithm (the
// merges, in order), and its tokenizer.json against Hugging Face `tokenizers`
// (tests/reference/hf_tokenizer.py): the same ids for the texts it was
// trained on, for new ones and around the ChatML special tokens.
#include "opd/data/synthetic_tasks.h"
#include "opd/tokenizer/bpe_trainer.h"
#include "opd/tokenizer/hf_tokenizer.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace opd::tokenizer {
namespace {

using opd::testing::expect_error;
using opd::testing::read_file_bytes;
using opd::testing::run_reference;
using opd::testing::ScratchDir;
using opd::testing::write_file_bytes;
using Merge = std::pair<std::string, std::string>;

// Prompts and solutions of the three synthetic domains.
std::vector<std::string> task_texts(int64_t problems, uint64_t seed) {
  data::SyntheticTaskSpec spec;
  spec.domains = {"arith", "reverse", "sort"};
  spec.train_size = problems;
  spec.test_size = 3;
  spec.seed = seed;
  std::vector<std::string> texts;
  for (const auto& p : data::make_synthetic_splits(spec).train) {
    texts.push_back(p.prompt);
    texts.push_back(p.solution);
  }
  return texts;
}

// BPE as textbooks state it, on strings: count every adjacent pair over all
// words, merge the most frequent (ties: the smallest pair), left to right.
std::vector<Merge> reference_merges(const std::vector<std::string>& pieces, size_t new_tokens) {
  std::vector<std::vector<std::string>> words;
  std::set<std::string> merged;
  for (const auto& piece : pieces) {
    std::vector<std::string> w;
    for (char c : piece) w.emplace_back(1, c);
    words.push_back(w);
  }
  std::vector<Merge> merges;
  for (size_t added = 0; added < new_tokens;) {
    std::map<Merge, int64_t> counts;
    for (const auto& w : words) {
      for (size_t i = 0; i + 1 < w.size(); ++i) ++counts[{w[i], w[i + 1]}];
    }
    Merge best;
    int64_t best_count = 0;
    for (const auto& [pair, count] : counts) {
      if (count > best_count) best = pair, best_count = count;
    }
    merges.push_back(best);
    if (merged.insert(best.first + best.second).second) ++added;
    for (auto& w : words) {
      std::vector<std::string> merged;
      for (size_t i = 0; i < w.size(); ++i) {
        if (i + 1 < w.size() && w[i] == best.first && w[i + 1] == best.second) {
          merged.push_back(w[i] + w[i + 1]);
          ++i;
        } else {
          merged.push_back(w[i]);
        }
      }
      w = std::move(merged);
    }
  }
  return merges;
}

// The words come from `tokenizers` cutting the texts by the trained file's
// own pre-tokenizer (Qwen3's split), so the split is checked too.
TEST(BpeTrainer, LearnsTheMergesOfTheTextbookAlgorithm) {
  ScratchDir dir("opd-bpe");
  const auto texts = task_texts(60, 1);
  const int64_t base = static_cast<int64_t>(default_char_alphabet().size()) + 3;
  const auto trained = train_bpe(texts, base + 150);
  write_file_bytes(dir / "tokenizer.json", trained.tokenizer_json);
  write_file_bytes(dir / "texts.json", nlohmann::json(texts).dump());
  const auto r = run_reference("hf_tokenizer.py", "words " + (dir / "tokenizer.json") + " " + (dir / "texts.json") +
                                                      " " + (dir / "words.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> pieces;
  for (const auto& text : nlohmann::json::parse(read_file_bytes(dir / "words.json"))) {
    for (const auto& piece : text) pieces.push_back(piece.get<std::string>());
  }
  EXPECT_GT(pieces.size(), texts.size() * 5) << "Qwen3's split cuts digits and marks apart";
  EXPECT_EQ(trained.merges, reference_merges(pieces, 150));
}

// The BPE of 512 ids, and the character tokenizer it starts from (no merges).
class BpeTokenizerParity : public ::testing::TestWithParam<int64_t> {};

TEST_P(BpeTokenizerParity, EncodesAsTokenizersDoes) {
  const int64_t vocab = GetParam();
  ScratchDir dir("opd-bpe");
  const auto texts = task_texts(300, 2);
  const std::string file = dir / "tokenizer.json";
  write_file_bytes(file, vocab == 64 ? char_tokenizer_json() : train_bpe(texts, vocab).tokenizer_json);

  auto probes = task_texts(30, 3);  // texts the trainer never saw
  probes.insert(probes.end(), texts.begin(), texts.begin() + 40);
  probes.push_back("<|im_start|>user\n" + texts[0] + "<|im_end|>\n<|im_start|>assistant\n" + texts[1] + "<|im_end|>");
  probes.push_back("aaaaaaa 1111 \n\n\n zz");
  const std::string corpus = dir / "probes.json";
  write_file_bytes(corpus, nlohmann::json(probes).dump());
  const auto r = run_reference("hf_tokenizer.py", "encode " + file + " " + corpus + " " + (dir / "ref.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ref = nlohmann::json::parse(read_file_bytes(dir / "ref.json"));

  auto tok = HfTokenizer::from_file(file);
  EXPECT_EQ(tok->vocab_size(), vocab);
  EXPECT_EQ(ref["vocab_size"].get<int64_t>(), vocab);
  EXPECT_EQ(tok->token_to_id("<|im_end|>"), vocab - 1);
  const auto ids = ref["ids"].get<std::vector<std::vector<int64_t>>>();
  size_t ids_total = 0, chars_total = 0;
  for (size_t i = 0; i < probes.size(); ++i) {
    EXPECT_EQ(tok->encode(probes[i]), ids[i]) << nlohmann::json(probes[i]).dump();
    EXPECT_EQ(tok->decode(ids[i]), probes[i]);
    EXPECT_EQ(ref["decoded"][i].get<std::string>(), probes[i]);
    ids_total += ids[i].size();
    chars_total += probes[i].size();
  }
  if (vocab > 64) {
    EXPECT_LT(ids_total * 5, chars_total * 4) << "the merges save at least a fifth of the tokens";
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, BpeTokenizerParity, ::testing::Values(64, 512),
                         [](const auto& info) { return "vocab" + std::to_string(info.param); });

TEST(BpeTrainer, BadRequestsAreOneLineNamingWhy) {
  const int64_t base = static_cast<int64_t>(default_char_alphabet().size()) + 3;
  expect_error([&] { train_bpe({"ab"}, base); }, {"vocab_size 64 leaves no room for a merge"});
  expect_error([&] { train_bpe({"ok", "caf\xc3\xa9"}, base + 4); }, {"text 1 holds the byte 195", "alphabet does not"});
  expect_error([&] { train_bpe({"abab", "cd"}, base + 3); },
               {"after 1 merges no pair of tokens occurs twice", "at most 65, not 67"});
}

}  // namespace
}  // namespace opd::tokenizer
