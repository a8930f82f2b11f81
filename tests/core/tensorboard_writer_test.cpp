#include "opd/core/tensorboard_writer.h"

#include "opd/core/crc32c.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace opd {
namespace {

using opd::testing::ScratchDir;

// A reader written from the format description, sharing nothing with the writer
// but crc32c (itself checked against published values below).

uint64_t little_endian(const std::string& bytes, size_t at, int n_bytes) {
  uint64_t v = 0;
  for (int i = 0; i < n_bytes; ++i) v |= uint64_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
  return v;
}

// Splits a TFRecord file into its records' data; throws on a bad length or a CRC mismatch.
std::vector<std::string> read_records(const std::string& file) {
  std::vector<std::string> records;
  size_t at = 0;
  while (at < file.size()) {
    if (file.size() - at < 12) throw std::runtime_error("truncated record header");
    const uint64_t length = little_endian(file, at, 8);
    if (little_endian(file, at + 8, 4) != masked_crc32c(file.data() + at, 8)) {
      throw std::runtime_error("length crc mismatch");
    }
    at += 12;
    if (file.size() - at < length + 4) throw std::runtime_error("truncated record data");
    std::string data = file.substr(at, length);
    if (little_endian(file, at + length, 4) != masked_crc32c(data.data(), data.size())) {
      throw std::runtime_error("data crc mismatch");
    }
    at += length + 4;
    records.push_back(std::move(data));
  }
  return records;
}

// Walks the protobuf fields of one message.
class ProtoCursor {
 public:
  explicit ProtoCursor(std::string bytes) : bytes_(std::move(bytes)) {}
  bool done() const { return at_ == bytes_.size(); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const auto byte = static_cast<unsigned char>(take(1)[0]);
      v |= uint64_t{byte & 0x7Fu} << shift;
      if ((byte & 0x80) == 0) return v;
    }
    throw std::runtime_error("varint longer than 10 bytes");
  }
  std::pair<uint32_t, uint32_t> key() {  // (field number, wire type)
    const uint64_t k = varint();
    return {static_cast<uint32_t>(k >> 3), static_cast<uint32_t>(k & 7)};
  }
  double fixed64_as_double() {
    const uint64_t bits = little_endian(take(8), 0, 8);
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  float fixed32_as_float() {
    const auto bits = static_cast<uint32_t>(little_endian(take(4), 0, 4));
    float v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  std::string length_delimited() { return take(varint()); }

 private:
  std::string take(uint64_t n) {
    if (bytes_.size() - at_ < n) throw std::runtime_error("field runs past the end of the message");
    std::string out = bytes_.substr(at_, n);
    at_ += n;
    return out;
  }
  std::string bytes_;
  size_t at_ = 0;
};

struct DecodedEvent {
  double wall_time = 0.0;
  int64_t step = 0;
  std::string file_version;
  std::vector<std::pair<std::string, float>> scalars;
};

// Expects each field with the wire type the schema gives it; anything else is a writer bug.
void expect_wire_type(uint32_t field, uint32_t got, uint32_t want) {
  if (got != want) {
    throw std::runtime_error("field " + std::to_string(field) + ": wire type " + std::to_string(got) +
                             ", expected " + std::to_string(want));
  }
}

std::pair<std::string, float> decode_value(std::string bytes) {
  std::pair<std::string, float> out;
  ProtoCursor c(std::move(bytes));
  while (!c.done()) {
    const auto [field, type] = c.key();
    if (field == 1) {
      expect_wire_type(field, type, 2);
      out.first = c.length_delimited();
    } else if (field == 2) {
      expect_wire_type(field, type, 5);
      out.second = c.fixed32_as_float();
    } else {
      throw std::runtime_error("unexpected Summary.Value field " + std::to_string(field));
    }
  }
  return out;
}

DecodedEvent decode_event(std::string bytes) {
  DecodedEvent out;
  ProtoCursor c(std::move(bytes));
  while (!c.done()) {
    const auto [field, type] = c.key();
    if (field == 1) {
      expect_wire_type(field, type, 1);
      out.wall_time = c.fixed64_as_double();
    } else if (field == 2) {
      expect_wire_type(field, type, 0);
      out.step = static_cast<int64_t>(c.varint());
    } else if (field == 3) {
      expect_wire_type(field, type, 2);
      out.file_version = c.length_delimited();
    } else if (field == 5) {
      expect_wire_type(field, type, 2);
      ProtoCursor summary(c.length_delimited());
      while (!summary.done()) {
        const auto [summary_field, summary_type] = summary.key();
        if (summary_field != 1) throw std::runtime_error("unexpected Summary field " + std::to_string(summary_field));
        expect_wire_type(summary_field, summary_type, 2);
        out.scalars.push_back(decode_value(summary.length_delimited()));
      }
    } else {
      throw std::runtime_error("unexpected Event field " + std::to_string(field));
    }
  }
  return out;
}

std::string event_file_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) files.push_back(entry.path());
  EXPECT_EQ(files.size(), 1u);
  return files.empty() ? std::string() : files.front().string();
}

TEST(Crc32c, MatchesPublishedCheckValues) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  // RFC 3720 (iSCSI) appendix B.4.
  std::string zeros(32, '\0');
  std::string ones(32, '\xFF');
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  EXPECT_EQ(crc32c(ascending.data(), ascending.size()), 0x46DD794Eu);
  EXPECT_EQ(crc32c("", 0), 0u);
}

TEST(Crc32c, MaskRotatesRightBy15AndAddsTheDelta) {
  const uint32_t crc = 0xE3069283u;
  EXPECT_EQ(masked_crc32c("123456789", 9), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
}

TEST(TensorBoardWriter, ScalarsReadBackWithValidFraming) {
  ScratchDir dir("opd_tb");
  const auto log_dir = dir.path() / "run" / "nested";  // created by the writer
  const double before = TensorBoardWriter::now_seconds();
  std::string path;
  {
    TensorBoardWriter writer(log_dir.string());
    path = writer.path();
    for (int64_t step = 0; step < 3; ++step) {
      writer.add_scalars(step, {{"loss/total", 0.1 * static_cast<double>(step) - 1.5}, {"lr", 1e-6 * (step + 1)}},
                         1000.25 + static_cast<double>(step));
    }
  }
  ASSERT_EQ(event_file_in(log_dir), path);
  const auto name = std::filesystem::path(path).filename().string();
  EXPECT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;

  const auto records = read_records(opd::testing::read_file_bytes(path));
  ASSERT_EQ(records.size(), 4u);
  const DecodedEvent first = decode_event(records[0]);
  EXPECT_EQ(first.file_version, "brain.Event:2");
  EXPECT_GE(first.wall_time, before - 1.0);
  EXPECT_LE(first.wall_time, TensorBoardWriter::now_seconds() + 1.0);
  EXPECT_TRUE(first.scalars.empty());

  for (int64_t step = 0; step < 3; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const DecodedEvent e = decode_event(records[static_cast<size_t>(step) + 1]);
    EXPECT_EQ(e.step, step);
    EXPECT_EQ(e.wall_time, 1000.25 + static_cast<double>(step));
    EXPECT_TRUE(e.file_version.empty());
    ASSERT_EQ(e.scalars.size(), 2u);
    EXPECT_EQ(e.scalars[0].first, "loss/total");
    EXPECT_EQ(e.scalars[0].second, static_cast<float>(0.1 * static_cast<double>(step) - 1.5));
    EXPECT_EQ(e.scalars[1].first, "lr");
    EXPECT_EQ(e.scalars[1].second, static_cast<float>(1e-6 * (step + 1)));
  }
}

TEST(TensorBoardWriter, CorruptedByteFailsTheCrcCheck) {
  ScratchDir dir("opd_tb");
  std::string path;
  {
    TensorBoardWriter writer(dir.path().string());
    path = writer.path();
    writer.add_scalars(7, {{"reward", 0.5}});
  }
  const std::string good = opd::testing::read_file_bytes(path);
  ASSERT_EQ(read_records(good).size(), 2u);

  std::string bad_data = good;
  bad_data[bad_data.size() - 6] ^= 0x01;  // inside the last record's data (the float)
  opd::testing::expect_error([&] { read_records(bad_data); }, {"data crc mismatch"});

  std::string bad_length = good;
  bad_length[0] ^= 0x01;  // first record's length
  opd::testing::expect_error([&] { read_records(bad_length); }, {"length crc mismatch"});
}

TEST(TensorBoardWriter, FlushMakesRecordsVisibleWhileOpen) {
  ScratchDir dir("opd_tb");
  TensorBoardWriter writer(dir.path().string());
  writer.add_scalars(1, {{"a", 1.0}});
  writer.flush();
  const auto records = read_records(opd::testing::read_file_bytes(writer.path()));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(decode_event(records[1]).step, 1);
}

TEST(TensorBoardWriter, LargeAndNegativeStepsRoundTrip) {
  ScratchDir dir("opd_tb");
  std::string path;
  {
    TensorBoardWriter writer(dir.path().string());
    path = writer.path();
    writer.add_scalars(int64_t{1} << 40, {{std::string(200, 't'), 3.0}});  // multi-byte varints
    writer.add_scalars(-1, {});
  }
  const auto records = read_records(opd::testing::read_file_bytes(path));
  ASSERT_EQ(records.size(), 3u);
  const DecodedEvent big = decode_event(records[1]);
  EXPECT_EQ(big.step, int64_t{1} << 40);
  ASSERT_EQ(big.scalars.size(), 1u);
  EXPECT_EQ(big.scalars[0].first, std::string(200, 't'));
  EXPECT_EQ(big.scalars[0].second, 3.0f);
  EXPECT_EQ(decode_event(records[2]).step, -1);
}

TEST(TensorBoardWriter, UnwritableDirectoryThrowsWithThePath) {
  ScratchDir dir("opd_tb");
  const std::string regular_file = dir / "not_a_dir";
  opd::testing::write_file_bytes(regular_file, "x");
  const std::string log_dir = regular_file + "/logs";
  opd::testing::expect_error([&] { TensorBoardWriter writer(log_dir); }, {log_dir});
}

}  // namespace
}  // namespace opd
