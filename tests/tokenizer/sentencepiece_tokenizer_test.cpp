// SentencePiece .model files: a model trained here by spm_train (BPE and
// unigram), encoded by opd and by spm_encode (the reference command line
// tool of the same library) on text it was not trained on.
#include "opd/tokenizer/sentencepiece_tokenizer.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace opd::tokenizer {
namespace {

using opd::testing::expect_error;
using opd::testing::ScratchDir;

bool have_spm_tools() {
  return std::system("command -v spm_train > /dev/null && command -v spm_encode > /dev/null") == 0;
}

std::string run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe.get())) > 0;) out.append(buffer, n);
  return out;
}

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
  const std::string command = "spm_train --input=" + (dir / "corpus.txt") + " --model_prefix=" + prefix +
                              " --vocab_size=400 --model_type=" + type +
                              " --byte_fallback=true --character_coverage=1.0 --hard_vocab_limit=false"
                              " > /dev/null 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return prefix + ".model";
}

std::vector<int64_t> reference_ids(const std::string& model, const std::string& text, const ScratchDir& dir) {
  std::ofstream(dir / "line.txt") << text << "\n";
  std::istringstream out(run("spm_encode --model=" + model + " --output_format=id < " + (dir / "line.txt")));
  std::vector<int64_t> ids;
  for (int64_t id; out >> id;) ids.push_back(id);
  return ids;
}

class SentencePieceParity : public ::testing::TestWithParam<std::string> {};

TEST_P(SentencePieceParity, IdsMatchSpmEncodeAndDecodeRoundTrips) {
  if (!have_spm_tools()) GTEST_SKIP() << "no spm_train / spm_encode (Debian package sentencepiece; tools/setup.sh installs it)";
  ScratchDir dir("opd-spm");
  const auto model = train(dir, GetParam());
  auto tok = SentencePieceTokenizer::from_file(model);
  // spm_train writes one line per piece to <prefix>.vocab.
  std::ifstream vocab(model.substr(0, model.size() - 6) + ".vocab");
  int64_t pieces = 0;
  for (std::string line; std::getline(vocab, line);) ++pieces;
  EXPECT_EQ(tok->vocab_size(), pieces);
  for (const std::string text : {"the student samples tokens", "naïve über 数学测试 the end.",
                                 "unseen words: zebra Quokka 🤖 ÿ", "  spaced   out  ", "KL 42 3.14"}) {
    const auto ids = tok->encode(text);
    EXPECT_EQ(ids, reference_ids(model, text, dir)) << text;
    // SentencePiece collapses runs of spaces and strips the ends before encoding.
    std::string expected = text;
    if (text == "  spaced   out  ") expected = "spaced out";
    EXPECT_EQ(tok->decode(ids), expected) << text;
  }
  EXPECT_EQ(tok->encode_batch({"the student", "KL 42"}),
            (std::vector<std::vector<int64_t>>{tok->encode("the student"), tok->encode("KL 42")}));
}

INSTANTIATE_TEST_SUITE_P(Models, SentencePieceParity, ::testing::Values("bpe", "unigram"),
                         [](const auto& info) { return info.param; });

TEST(SentencePiece, SpecialPiecesAndBos) {
  if (!have_spm_tools()) GTEST_SKIP() << "no spm_train (Debian package sentencepiece)";
  ScratchDir dir("opd-spm-special");
  auto tok = load_tokenizer(train(dir, "bpe"));
  // spm_train's defaults: <unk> = 0, <s> = 1, </s> = 2.
  EXPECT_EQ(tok->token_to_id("<s>"), 1);
  EXPECT_EQ(tok->id_to_token(2), "</s>");
  EXPECT_TRUE(tok->is_special(0) && tok->is_special(1) && tok->is_special(2));
  EXPECT_FALSE(tok->token_to_id("no such piece").has_value());
  const auto with_bos = tok->encode("the student", /*add_special_tokens=*/true);
  ASSERT_FALSE(with_bos.empty());
  EXPECT_EQ(with_bos.front(), 1);
  EXPECT_EQ(tok->decode(with_bos, /*skip_special=*/true), "the student");
  expect_error([&] { tok->decode({400}); }, {"400", "outside the vocabulary"});
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
