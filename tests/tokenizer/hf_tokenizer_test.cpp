// tokenizer.json tokenizers against Hugging Face `tokenizers` itself (the
// Rust library; tests/reference/hf_tokenizer.py) on real and generated files:
// Qwen3's tokenizer.json as published (tests/fixtures/tokenizers/qwen3), and
// tokenizers that `tokenizers` trains in the test with the layouts of Llama 3
// (its split regex, byte-level BPE with ignore_merges, a BOS post-processor)
// and of Llama 2 / Mistral (SentencePiece-converted: byte fallback, Metaspace-
// style normalizer and decoder); Llama 3's own file where the user has it
// (OPD_LLAMA3_TOKENIZER_DIR; its license keeps it out of this repository).
// Ids with and without special tokens, decoded text with and without them,
// and decoding byte sequences that are not UTF-8.
#include "opd/tokenizer/hf_tokenizer.h"
#include "support/test_support.h"
#include "tokenizer/corpus.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace opd::tokenizer {
namespace {

namespace fs = std::filesystem;
using opd::testing::error_message;
using opd::testing::expect_error;
using opd::testing::read_file_bytes;
using opd::testing::run_reference;
using opd::testing::ScratchDir;
using opd::testing::write_file_bytes;

const fs::path kQwen3 = fs::path(OPD_SOURCE_DIR) / "tests/fixtures/tokenizers/qwen3";

// The tokenizer.json a case tests: the fixture, or one `tokenizers` trains into `dir`.
std::string tokenizer_file(const std::string& name, const ScratchDir& dir, const std::string& corpus) {
  if (name == "qwen3") return (kQwen3 / "tokenizer.json").string();
  if (name == "llama3") return std::string(std::getenv("OPD_LLAMA3_TOKENIZER_DIR")) + "/tokenizer.json";
  const auto made = run_reference("hf_tokenizer.py", "make " + name + " " + corpus + " " + (dir / name));
  EXPECT_EQ(made.exit_code, 0) << made.output;
  return dir / (name + "/tokenizer.json");
}

std::vector<std::vector<int64_t>> id_lists(const nlohmann::json& j) { return j.get<std::vector<std::vector<int64_t>>>(); }

class HfTokenizerParity : public ::testing::TestWithParam<std::string> {};

TEST_P(HfTokenizerParity, IdsAndDecodedTextMatchTokenizers) {
  const char* llama3 = std::getenv("OPD_LLAMA3_TOKENIZER_DIR");
  if (GetParam() == "llama3" && llama3 == nullptr) {
    GTEST_SKIP() << "set OPD_LLAMA3_TOKENIZER_DIR to a directory with Llama 3's tokenizer.json "
                    "(not shipped: Meta Llama 3 Community License)";
  }
  ScratchDir dir("opd-tokenizer");
  const auto texts = tokenizer_corpus();
  const std::string corpus = dir / "corpus.json";
  write_file_bytes(corpus, nlohmann::json(texts).dump());
  const std::string file = tokenizer_file(GetParam(), dir, corpus);
  const auto r = run_reference("hf_tokenizer.py", "encode " + file + " " + corpus + " " + (dir / "ref.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ref = nlohmann::json::parse(read_file_bytes(dir / "ref.json"));

  auto tok = HfTokenizer::from_file(file);
  EXPECT_EQ(tok->vocab_size(), ref["vocab_size"].get<int64_t>());
  const auto ids = id_lists(ref["ids"]);
  const auto with_special = id_lists(ref["ids_with_special"]);
  ASSERT_EQ(ids.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string what = "text " + std::to_string(i) + ": " + nlohmann::json(texts[i]).dump();
    EXPECT_EQ(tok->encode(texts[i]), ids[i]) << what;
    EXPECT_EQ(tok->encode(texts[i], /*add_special_tokens=*/true), with_special[i]) << what;
    EXPECT_EQ(tok->decode(ids[i]), ref["decoded"][i].get<std::string>()) << what;
    EXPECT_EQ(tok->decode(ids[i], /*skip_special=*/true), ref["decoded_skip_special"][i].get<std::string>()) << what;
  }
  EXPECT_EQ(tok->encode_batch(texts), ids) << "batch encoding (in parallel) gives the same ids";

  // Ids past the vocabulary are dropped, as the library drops them.
  const auto past = ref["past_vocab"]["ids"].get<std::vector<int64_t>>();
  EXPECT_EQ(tok->decode(past), ref["past_vocab"]["decoded"].get<std::string>());

  // Bytes that are not UTF-8 decode to U+FFFD exactly where the library puts it.
  const auto invalid = id_lists(ref["invalid_utf8"]["ids"]);
  EXPECT_FALSE(invalid.empty());
  for (size_t i = 0; i < invalid.size(); ++i) {
    EXPECT_EQ(tok->decode(invalid[i]), ref["invalid_utf8"]["decoded"][i].get<std::string>()) << "invalid case " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, HfTokenizerParity, ::testing::Values("qwen3", "llama3", "llama3_style", "mistral_style"),
                         [](const auto& info) { return info.param; });

TEST(HfTokenizer, QwenSpecialTokens) {
  auto tok = HfTokenizer::from_file((kQwen3 / "tokenizer.json").string());
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

// Found by the fuzz target tests/fuzz/tokenizer_json_fuzzer.cpp: a negative
// id indexed before the id table (a heap overflow), a huge one sized it
// (bad_alloc), a float was truncated to an id, a post-processor could add an
// id outside the vocabulary, and a number past a double escaped as
// nlohmann's exception. Each is now an error naming the JSON path.
TEST(HfTokenizer, IdsMustBeIntegersInTheVocabularyRange) {
  auto with = [](const std::function<void(nlohmann::json&)>& change) {
    auto j = nlohmann::json::parse(kTinyTokenizer);
    change(j);
    return j.dump();
  };
  auto err = [](const std::string& text) {
    return error_message([&] { HfTokenizer::from_json_text(text, "/m/tokenizer.json"); });
  };
  std::string msg = err(with([](nlohmann::json& j) { j["model"]["vocab"]["a"] = -5; }));
  EXPECT_NE(msg.find("/m/tokenizer.json: model.vocab[\"a\"]: a token id must be an integer in [0, 16777216), got -5"),
            std::string::npos)
      << msg;
  msg = err(with([](nlohmann::json& j) { j["model"]["vocab"]["a"] = int64_t{1} << 40; }));
  EXPECT_NE(msg.find("model.vocab[\"a\"]: a token id must be an integer"), std::string::npos) << msg;
  msg = err(with([](nlohmann::json& j) { j["model"]["vocab"]["b"] = 1.5; }));
  EXPECT_NE(msg.find("model.vocab[\"b\"]: a token id must be an integer in [0, 16777216), got 1.5"), std::string::npos) << msg;
  msg = err(with([](nlohmann::json& j) { j["added_tokens"][0]["id"] = -1; }));
  EXPECT_NE(msg.find("/m/tokenizer.json: added_tokens[0].id: a token id must be"), std::string::npos) << msg;
  msg = err(with([](nlohmann::json& j) { j["post_processor"]["special_tokens"]["<eos>"]["ids"] = {9, -2}; }));
  EXPECT_NE(msg.find("post_processor.special_tokens[\"<eos>\"].ids[1]: a token id must be"), std::string::npos) << msg;
  msg = err(with([](nlohmann::json& j) { j["post_processor"]["special_tokens"]["<eos>"]["ids"] = {1000}; }));
  EXPECT_NE(msg.find("/m/tokenizer.json: post_processor adds token id 1000, which is not in the vocabulary (10 ids)"),
            std::string::npos)
      << msg;
  msg = err(with([](nlohmann::json& j) {
    j["post_processor"] = {{"type", "RobertaProcessing"}, {"cls", {"<s>", 0}}, {"sep", {"</s>", -3}}};
  }));
  EXPECT_NE(msg.find("post_processor.sep[1]: a token id must be"), std::string::npos) << msg;
  msg = err(R"({"model": {"type": "BPE", "vocab": {"a": 1e400}, "merges": []}})");
  EXPECT_NE(msg.find("/m/tokenizer.json: not valid JSON"), std::string::npos) << msg;
  EXPECT_NE(msg.find("after key 'a'"), std::string::npos) << msg;
  // The text entry point reads what from_file reads.
  EXPECT_EQ(HfTokenizer::from_json_text(kTinyTokenizer, "tiny")->encode("abc ab a"), (std::vector<int64_t>{5, 3, 4, 6}));
}

}  // namespace
}  // namespace opd::tokenizer
