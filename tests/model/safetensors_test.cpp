#include "opd/model/safetensors.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>


#include "model/tensor_maps.h"
#include "support/test_support.h"

namespace opd::model {
namespace {

using json = nlohmann::json;
using opd::testing::error_message;
using opd::testing::expect_error;
using opd::testing::write_file_bytes;
using opd::testing::read_file_bytes;
using opd::testing::ScratchDir;
std::string u64_le(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

// A file laid out by hand: the length prefix, header text as given, data bytes.
std::string raw_file(const std::string& header, const std::string& data) {
  return u64_le(header.size()) + header + data;
}

// Every tensor of every supported dtype, plus the awkward shapes.
TensorMap sample_tensors() {
  TensorMap t;
  t["f64"] = at::arange(6, at::kDouble).reshape({2, 3}).div(7);
  t["f32"] = at::randn({3, 4}, at::kFloat);
  t["f16"] = at::randn({5}, at::kFloat).to(at::kHalf);
  t["bf16"] = at::randn({2, 2, 3}, at::kFloat).to(at::kBFloat16);
  t["i64"] = at::arange(-3, 3, at::kLong) * (int64_t{1} << 40);
  t["i32"] = at::arange(-4, 4, at::kInt).reshape({2, 4}) * 100000;
  t["i16"] = at::arange(-5, 5, at::kShort);
  t["i8"] = at::arange(-128, 128, 17, at::kChar);
  t["u8"] = at::arange(0, 256, 5, at::kInt).to(at::kByte);
  t["bool"] = at::arange(7, at::kInt).remainder(2).to(at::kBool);
  t["scalar"] = at::scalar_tensor(3.5, at::kFloat);  // 0-d
  t["empty"] = at::empty({0, 3}, at::kBFloat16);
  t["transposed"] = at::arange(12, at::kFloat).reshape({3, 4}).t();  // non-contiguous input
  return t;
}

TEST(Safetensors, RoundTripsEveryDtypeAndShape) {
  ScratchDir dir("opd-safetensors");
  const TensorMap tensors = sample_tensors();
  const std::string path = dir / "a.safetensors";
  write_safetensors(path, tensors, {{"format", "pt"}, {"note", "h\xc3\xa9llo"}});
  const SafetensorsFile file = read_safetensors(path);
  expect_same_tensors(tensors, file.tensors);
  EXPECT_EQ(file.tensors.at("scalar").dim(), 0);
  EXPECT_EQ(file.tensors.at("scalar").item<float>(), 3.5f);
  EXPECT_EQ(file.tensors.at("empty").numel(), 0);
  EXPECT_EQ(file.metadata, (std::map<std::string, std::string>{{"format", "pt"},
                                                               {"note", "h\xc3\xa9llo"}}));
}

TEST(Safetensors, EmptyMapAndNoMetadataRoundTrip) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "empty.safetensors";
  write_safetensors(path, {}, {});
  const SafetensorsFile file = read_safetensors(path);
  EXPECT_TRUE(file.tensors.empty());
  EXPECT_TRUE(file.metadata.empty());
  EXPECT_EQ(read_file_bytes(path).size() % 8, 0u);
}

TEST(Safetensors, RewriteIsByteIdentical) {
  ScratchDir dir("opd-safetensors");
  const std::string first = dir / "first.safetensors";
  const std::string second = dir / "second.safetensors";
  write_safetensors(first, sample_tensors());
  const SafetensorsFile file = read_safetensors(first);
  write_safetensors(second, file.tensors, file.metadata);
  const std::string a = read_file_bytes(first);
  EXPECT_GT(a.size(), 8u);
  EXPECT_EQ(a, read_file_bytes(second));
}

TEST(Safetensors, HeaderIsAlignedAndParsesByHand) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "a.safetensors";
  const TensorMap tensors = sample_tensors();
  write_safetensors(path, tensors);
  const std::string bytes = read_file_bytes(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ((8 + n) % 8, 0u);
  ASSERT_LE(8 + n, bytes.size());
  const std::string header_text = bytes.substr(8, n);
  EXPECT_EQ(header_text.front(), '{');
  EXPECT_EQ(header_text.find_last_not_of(' '), header_text.rfind('}'));  // only spaces pad it
  const json header = json::parse(header_text);
  EXPECT_EQ(header.at("__metadata__"), json({{"format", "pt"}}));

  // Tensors are laid out back to back, widest elements first and then by name
  // (so each starts aligned to its element size), and the bytes are theirs.
  const std::string buffer = bytes.substr(8 + n);
  std::vector<std::pair<std::string, at::Tensor>> expected_order(tensors.begin(), tensors.end());
  std::stable_sort(expected_order.begin(), expected_order.end(), [](const auto& a, const auto& b) {
    return a.second.element_size() > b.second.element_size();
  });
  uint64_t expected_begin = 0;
  for (const auto& [name, tensor] : expected_order) {
    const json& entry = header.at(name);
    EXPECT_EQ(entry.at("dtype").get<std::string>(), safetensors_dtype_name(tensor.scalar_type()));
    EXPECT_EQ(entry.at("shape").get<std::vector<int64_t>>(), tensor.sizes().vec()) << name;
    const auto begin = entry.at("data_offsets")[0].get<uint64_t>();
    const auto end = entry.at("data_offsets")[1].get<uint64_t>();
    EXPECT_EQ(begin, expected_begin) << name;
    EXPECT_EQ((8 + n + begin) % static_cast<uint64_t>(tensor.element_size()), 0u) << name << " misaligned";
    const at::Tensor contiguous = tensor.contiguous();
    ASSERT_EQ(end - begin, static_cast<uint64_t>(contiguous.nbytes())) << name;
    ASSERT_LE(end, buffer.size()) << name;
    EXPECT_EQ(std::memcmp(buffer.data() + begin, contiguous.data_ptr(), end - begin), 0) << name;
    expected_begin = end;
  }
  EXPECT_EQ(expected_begin, buffer.size());
  EXPECT_EQ(header.size(), tensors.size() + 1);
}

TEST(Safetensors, ReadsAHandWrittenFile) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "hand.safetensors";
  float values[3] = {1.5f, -2.0f, 4.25f};
  std::string data(reinterpret_cast<const char*>(values), sizeof(values));
  data += std::string("\x01\x00", 2);
  // Unpadded header (so "w" starts misaligned) and keys in an unusual order.
  write_file_bytes(path, raw_file(R"({"w":{"shape":[3],"data_offsets":[0,12],"dtype":"F32"},)"
                             R"("m":{"dtype":"BOOL","shape":[2],"data_offsets":[12,14]}})",
                             data));
  const SafetensorsFile file = read_safetensors(path);
  EXPECT_TRUE(file.metadata.empty());
  EXPECT_TRUE(at::equal(file.tensors.at("w"), at::tensor({1.5f, -2.0f, 4.25f})));
  EXPECT_TRUE(at::equal(file.tensors.at("m"), at::tensor({1, 0}, at::kByte).to(at::kBool)));
}

TEST(Safetensors, MisalignedTensorIsReadCorrectly) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "odd.safetensors";
  // "a" (3 bytes of U8) pushes "b" (F32) off 4-byte alignment.
  TensorMap tensors{{"a", at::arange(3, at::kInt).to(at::kByte)},
                    {"b", at::arange(5, at::kFloat).mul(0.5)}};
  write_safetensors(path, tensors);
  expect_same_tensors(tensors, read_safetensors(path).tensors);
}

TEST(Safetensors, LoadedTensorsAreWritableWithoutTouchingTheFile) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "a.safetensors";
  write_safetensors(path, {{"w", at::ones({64}, at::kFloat)}});
  const std::string before = read_file_bytes(path);
  {
    SafetensorsFile file = read_safetensors(path);
    file.tensors.at("w").mul_(3);  // a private mapping copies the page
    EXPECT_EQ(file.tensors.at("w")[0].item<float>(), 3.0f);
  }
  EXPECT_EQ(read_file_bytes(path), before);
  // Tensors outlive the SafetensorsFile they came from (the mapping stays alive).
  const at::Tensor w = read_safetensors(path).tensors.at("w");
  EXPECT_TRUE(at::equal(w, at::ones({64}, at::kFloat)));
}

TEST(Safetensors, MissingFileIsAClearError) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "absent.safetensors";
  expect_error([&] { read_safetensors(path); }, {path, "no such file"});
  expect_error([&] { read_safetensors(dir.path().string()); }, {dir.path().string(), "directory"});
}

TEST(Safetensors, TruncatedFileNamesPathAndWhere) {
  ScratchDir dir("opd-safetensors");
  const std::string good = dir / "good.safetensors";
  write_safetensors(good, {{"a", at::randn({16})}, {"b", at::randn({8})}});
  const std::string bytes = read_file_bytes(good);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  ASSERT_GT(bytes.size(), 8 + n + 8);
  ASSERT_GT(8 + n, 100u);

  const std::string path = dir / "cut.safetensors";
  const size_t data_start = 8 + n;
  const std::vector<size_t> cuts = {0, 3, 7, 8, 8 + n / 2, data_start - 1, data_start,
                                    data_start + 10, bytes.size() - 1};
  for (size_t cut : cuts) {
    SCOPED_TRACE("cut at byte " + std::to_string(cut));
    write_file_bytes(path, bytes.substr(0, cut));
    expect_error([&] { read_safetensors(path); }, {path, "truncated"});
  }
  write_file_bytes(path, bytes.substr(0, 5));
  expect_error([&] { read_safetensors(path); }, {"file has 5 bytes"});
  write_file_bytes(path, bytes.substr(0, 100));
  expect_error([&] { read_safetensors(path); },
               {"header says " + std::to_string(n) + " bytes at offset 8, file has 100 bytes"});
  write_file_bytes(path, bytes.substr(0, bytes.size() - 4));
  expect_error([&] { read_safetensors(path); }, {"tensor 'b' ends at byte 96 of a 92-byte"});
}

TEST(Safetensors, CorruptHeaderJsonIsAClearError) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "bad.safetensors";
  write_file_bytes(path, raw_file(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]})",
                             std::string(4, '\0')));  // missing closing brace
  expect_error([&] { read_safetensors(path); }, {path, "not valid JSON", "offset 8"});
  write_file_bytes(path, raw_file("[1, 2]", ""));
  expect_error([&] { read_safetensors(path); }, {path, "must be a JSON object", "array"});
  write_file_bytes(path, raw_file(R"({"__metadata__": {"k": 3}})", ""));
  expect_error([&] { read_safetensors(path); }, {path, "__metadata__", "'k'", "must be a string"});
  write_file_bytes(path, raw_file(R"({"a": {"dtype": "F32", "shape": [1]}})", ""));
  expect_error([&] { read_safetensors(path); }, {path, "tensor 'a'", "data_offsets"});
  write_file_bytes(path, raw_file(R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}})",
                             ""));
  expect_error([&] { read_safetensors(path); }, {path, "tensor 'a'", "shape [-1]"});
  write_file_bytes(path, raw_file(R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}})",
                             std::string(4, '\0')));
  expect_error([&] { read_safetensors(path); }, {path, "tensor 'a'", "data_offsets [4,0]"});
}

TEST(Safetensors, HugeHeaderLengthIsRejected) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "garbage.safetensors";
  write_file_bytes(path, u64_le(~uint64_t{0}) + "{}");
  expect_error([&] { read_safetensors(path); }, {path, "header length", "limit"});
}

TEST(Safetensors, OffsetsThatDisagreeWithShapeAreAClearError) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "bad.safetensors";
  write_file_bytes(path, raw_file(R"({"model.norm.weight": {"dtype": "F32", "shape": [4],)"
                             R"( "data_offsets": [0, 10]}})",
                             std::string(10, '\0')));
  expect_error([&] { read_safetensors(path); },
               {path, "tensor 'model.norm.weight' data_offsets [0, 10] do not match dtype F32 "
                      "shape [4] (16 bytes)"});
}

TEST(Safetensors, OffsetsPastTheBufferAreAClearError) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "bad.safetensors";
  write_file_bytes(path, raw_file(R"({"x": {"dtype": "U8", "shape": [200], "data_offsets": [300, 500]}})",
                             std::string(300, '\0')));
  expect_error([&] { read_safetensors(path); },
               {path, "tensor 'x' ends at byte 500 of a 300-byte data buffer"});
}

TEST(Safetensors, OverlapsGapsAndTrailingBytesAreErrors) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "bad.safetensors";
  write_file_bytes(path, raw_file(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},)"
                             R"( "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}})",
                             std::string(6, '\0')));
  expect_error([&] { read_safetensors(path); }, {path, "tensor 'b'", "overlap tensor 'a'"});
  write_file_bytes(path, raw_file(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},)"
                             R"( "b": {"dtype": "U8", "shape": [4], "data_offsets": [6, 10]}})",
                             std::string(10, '\0')));
  expect_error([&] { read_safetensors(path); }, {path, "[4, 6]", "gap before tensor 'b'"});
  write_file_bytes(path, raw_file(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}})",
                             std::string(7, '\0')));
  expect_error([&] { read_safetensors(path); }, {path, "3 unaccounted trailing bytes"});
}

TEST(Safetensors, UnknownDtypeIsAClearError) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "bad.safetensors";
  write_file_bytes(path, raw_file(R"({"lm_head.weight": {"dtype": "Q4_K", "shape": [2],)"
                             R"( "data_offsets": [0, 2]}})",
                             std::string(2, '\0')));
  expect_error([&] { read_safetensors(path); }, {path, "tensor 'lm_head.weight'", "dtype 'Q4_K'"});
}

TEST(Safetensors, BoolBytesOtherThanZeroOrOneAreRejected) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "bad.safetensors";
  write_file_bytes(path, raw_file(R"({"mask": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]}})",
                             std::string("\x01\x00\x07", 3)));
  expect_error([&] { read_safetensors(path); }, {path, "tensor 'mask'", "byte value 7 at element 2"});
}

// Every prefix of a valid file, and a valid file with header bytes overwritten,
// must either parse or throw c10::Error: never read out of bounds or crash.
TEST(Safetensors, DamagedFilesNeverCrash) {
  ScratchDir dir("opd-safetensors");
  const std::string good = dir / "good.safetensors";
  write_safetensors(good, {{"a", at::randn({3})}, {"b", at::arange(4, at::kLong)}});
  const std::string bytes = read_file_bytes(good);
  const std::string path = dir / "damaged.safetensors";
  int rejected = 0;
  auto try_read = [&] {
    try {
      read_safetensors(path);
    } catch (const c10::Error&) {
      ++rejected;
    }
  };
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    write_file_bytes(path, bytes.substr(0, cut));
    try_read();
  }
  EXPECT_EQ(rejected, static_cast<int>(bytes.size()));  // every strict prefix is invalid
  std::mt19937 rng(1234);
  const std::string alphabet = "0123456789[]{},:\" -abcdefgFIU\xff";
  for (int trial = 0; trial < 300; ++trial) {
    std::string damaged = bytes;
    const size_t pos = rng() % std::min<size_t>(damaged.size(), 200);
    damaged[pos] = alphabet[rng() % alphabet.size()];
    write_file_bytes(path, damaged);
    try_read();
  }
  EXPECT_GT(rejected, static_cast<int>(bytes.size()));
}

TEST(Safetensors, FailedWriteLeavesNoFileBehind) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "out.safetensors";
  // The unsupported tensor sorts last, so earlier tensors were already queued.
  TensorMap bad{{"a", at::ones({4})}, {"z", at::ones({2}, at::kComplexFloat)}};
  expect_error([&] { write_safetensors(path, bad); }, {path, "tensor 'z'", "ComplexFloat"});
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));

  write_safetensors(path, {{"a", at::ones({4})}});
  const std::string before = read_file_bytes(path);
  expect_error([&] { write_safetensors(path, {{"u", at::Tensor()}}); }, {path, "'u'", "undefined"});
  expect_error([&] { write_safetensors(path, {{"__metadata__", at::ones({1})}}); },
               {path, "__metadata__"});
  expect_error([&] { write_safetensors(path, {{"bad\xff", at::ones({1})}}); }, {path, "UTF-8"});
  EXPECT_EQ(read_file_bytes(path), before);  // the old file is untouched
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);

  const std::string nowhere = dir / "no-such-dir/out.safetensors";
  expect_error([&] { write_safetensors(nowhere, {{"a", at::ones({1})}}); },
               {nowhere, "cannot write", "No such file or directory"});
}

// A write that fails half way (here: the file size limit) removes its temporary
// file and leaves the previous file in place.
TEST(Safetensors, WriteFailingMidwayRemovesTheTemporaryFile) {
  ScratchDir dir("opd-safetensors");
  const std::string path = dir / "out.safetensors";
  write_safetensors(path, {{"a", at::ones({4})}});
  const std::string before = read_file_bytes(path);

  const std::string message =
      opd::testing::error_under_file_size_limit([&] { write_safetensors(path, {{"big", at::zeros({1 << 16})}}); });

  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("failed"), std::string::npos) << message;
  EXPECT_EQ(read_file_bytes(path), before);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            1);
}

TEST(Safetensors, DtypeNames) {
  EXPECT_EQ(safetensors_dtype_name(at::kBFloat16), "BF16");
  EXPECT_EQ(safetensors_dtype_name(at::kBool), "BOOL");
  expect_error([] { safetensors_dtype_name(at::kComplexDouble); }, {"ComplexDouble", "supported"});
}

}  // namespace
}  // namespace opd::model
