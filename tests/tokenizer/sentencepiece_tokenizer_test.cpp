// SentencePiece .model files: models trained here by the `sentencepiece`
// Python package (BPE and unigram; tests/reference/sentencepiece_reference.py),
// encoded and decoded by opd and by that library on text it was not trained on.
#include "opd/tokenizer/sentencepiece_tokenizer.h"
#include "support/test_support.h"
#include "tokenizer/corpus.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace opd::tokenizer {
namespace {

using opd::testing::expect_error;
using opd::testing::read_file_bytes;
using opd::testing::run_reference;
using opd::testing::ScratchDir;

// A model of `type` (bpe | unigram) trained on generated sentences in `dir`.
std::string train(const ScratchDir& dir, const std::string& type) {
  std::mt19937 rng(7);
  const std::vector<std::string> words = {"the", "student", "teacher", "samples", "tokens", "distils",
                                          "policy", "reverse", "forward", "KL", "42", "3.14",
                                          "über", "naïve", "数学", "测试", "the end."};
  std::ofstream corpus(dir / "corpus.txt");
  for (int line = 0; line < 3000; ++line) {
    for (int w = 0; w < 10; ++w) corpus << (w ? " " : "") << words[rng() % words.size()];
    corpus << "\n";
  }
  corpus.close();
  const std::string prefix = dir / type;
  const auto r = run_reference("sentencepiece_reference.py", "train " + type + " " + (dir / "corpus.txt") + " " + prefix);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return prefix + ".model";
}

class SentencePieceParity : public ::testing::TestWithParam<std::string> {};

TEST_P(SentencePieceParity, IdsAndDecodedTextMatchTheLibrary) {
  ScratchDir dir("opd-spm");
  const auto model = train(dir, GetParam());
  std::vector<std::string> texts = {"the student samples tokens", "naïve über 数学测试 the end.",
                                    "unseen words: zebra Quokka 🤖 ÿ", "  spaced   out  ", "KL 42 3.14"};
  for (const auto& t : tokenizer_corpus()) texts.push_back(t);
  opd::testing::write_file_bytes(dir / "texts.json", nlohmann::json(texts).dump());
  const auto r = run_reference("sentencepiece_reference.py",
                               "encode " + model + " " + (dir / "texts.json") + " " + (dir / "ref.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ref = nlohmann::json::parse(read_file_bytes(dir / "ref.json"));

  auto tok = SentencePieceTokenizer::from_file(model);
  EXPECT_EQ(tok->vocab_size(), ref["vocab_size"].get<int64_t>());
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string what = "text " + std::to_string(i) + ": " + nlohmann::json(texts[i]).dump();
    const auto ids = tok->encode(texts[i]);
    EXPECT_EQ(ids, ref["ids"][i].get<std::vector<int64_t>>()) << what;
    EXPECT_EQ(tok->encode(texts[i], /*add_special_tokens=*/true), ref["ids_with_bos"][i].get<std::vector<int64_t>>())
        << what;
    EXPECT_EQ(tok->decode(ids), ref["decoded"][i].get<std::string>()) << what;
  }
  EXPECT_EQ(tok->encode_batch({"the student", "KL 42"}),
            (std::vector<std::vector<int64_t>>{tok->encode("the student"), tok->encode("KL 42")}));
}

INSTANTIATE_TEST_SUITE_P(Models, SentencePieceParity, ::testing::Values("bpe", "unigram"),
                         [](const auto& info) { return info.param; });

TEST(SentencePiece, SpecialPiecesAndBos) {
  ScratchDir dir("opd-spm-special");
  auto tok = load_tokenizer(train(dir, "bpe"));
  // The trainer's defaults: <unk> = 0, <s> = 1, </s> = 2.
  EXPECT_EQ(tok->token_to_id("<s>"), 1);
  EXPECT_EQ(tok->id_to_token(2), "</s>");
  EXPECT_TRUE(tok->is_special(0) && tok->is_special(1) && tok->is_special(2));
  EXPECT_FALSE(tok->token_to_id("no such piece").has_value());
  const auto with_bos = tok->encode("the student", /*add_special_tokens=*/true);
  ASSERT_FALSE(with_bos.empty());
  EXPECT_EQ(with_bos.front(), 1);
  EXPECT_EQ(tok->decode(with_bos, /*skip_special=*/true), "the student");
  // Ids past the vocabulary are skipped (as tokenizers does); a negative one is an error.
  auto padded = with_bos;
  padded.insert(padded.begin() + 1, tok->vocab_size() + 100);
  padded.push_back(tok->vocab_size());
  EXPECT_EQ(tok->decode(padded, /*skip_special=*/true), "the student");
  expect_error([&] { tok->decode({-3}); }, {"-3", "outside the vocabulary"});
  // A model directory holding tokenizer.model loads the same tokenizer.
  std::filesystem::create_directory(dir / "model_dir");
  std::filesystem::copy_file(dir / "bpe.model", dir / "model_dir/tokenizer.model");
  EXPECT_EQ(load_tokenizer(dir / "model_dir")->encode("the student"), tok->encode("the student"));
}

TEST(SentencePiece, BadFileIsAClearError) {
  ScratchDir dir("opd-spm-bad");
  opd::testing::write_file_bytes(dir / "broken.model", "not a protobuf");
  expect_error([&] { SentencePieceTokenizer::from_file(dir / "broken.model"); },
               {"broken.model", "cannot be loaded"});
}

}  // namespace
}  // namespace opd::tokenizer
