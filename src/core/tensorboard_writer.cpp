#include "opd/core/tensorboard_writer.h"

#include "opd/core/crc32c.h"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace opd {
namespace {

// Protobuf wire types and the field numbers of tensorflow's Event, Summary and
// Summary.Value (event.proto, summary.proto).
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };
constexpr uint32_t kEventWallTime = 1;
constexpr uint32_t kEventStep = 2;
constexpr uint32_t kEventFileVersion = 3;
constexpr uint32_t kEventSummary = 5;
constexpr uint32_t kEventSessionLog = 7;
constexpr uint32_t kSessionLogStatus = 1;
constexpr uint64_t kSessionLogStart = 1;
constexpr uint32_t kSummaryValue = 1;
constexpr uint32_t kValueTag = 1;
constexpr uint32_t kValueSimpleValue = 2;

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Little endian whatever the host's byte order, as the wire format and TFRecord require.
void put_little_endian(std::string& out, uint64_t v, int n_bytes) {
  for (int i = 0; i < n_bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void put_key(std::string& out, uint32_t field, WireType type) { put_varint(out, (field << 3) | type); }

void put_double(std::string& out, uint32_t field, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_key(out, field, kFixed64);
  put_little_endian(out, bits, 8);
}

void put_float(std::string& out, uint32_t field, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_key(out, field, kFixed32);
  put_little_endian(out, bits, 4);
}

void put_int64(std::string& out, uint32_t field, int64_t v) {
  put_key(out, field, kVarint);
  put_varint(out, static_cast<uint64_t>(v));  // negative steps take ten bytes, as protobuf's int64 does
}

void put_bytes(std::string& out, uint32_t field, const std::string& bytes) {
  put_key(out, field, kLengthDelimited);
  put_varint(out, bytes.size());
  out += bytes;
}

std::string hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

double TensorBoardWriter::now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

TensorBoardWriter::TensorBoardWriter(const std::string& log_dir) {
  std::error_code ec;
  std::filesystem::create_directories(log_dir, ec);
  if (ec) throw std::runtime_error("TensorBoardWriter: cannot create log directory '" + log_dir + "': " + ec.message());
  const double wall_time = now_seconds();
  const auto file_name =
      "events.out.tfevents." + std::to_string(static_cast<int64_t>(wall_time)) + "." + hostname();
  path_ = (std::filesystem::path(log_dir) / file_name).string();
  out_.open(path_, std::ios::binary | std::ios::app);
  if (!out_) throw std::runtime_error("TensorBoardWriter: cannot open '" + path_ + "' for writing");

  // TensorBoard reads the first record to learn the format version.
  std::string event;
  put_double(event, kEventWallTime, wall_time);
  put_bytes(event, kEventFileVersion, "brain.Event:2");
  write_record(event);
}

TensorBoardWriter::~TensorBoardWriter() {
  try {
    flush();
  } catch (...) {
  }
}

void TensorBoardWriter::add_scalars(int64_t step, const std::vector<std::pair<std::string, double>>& values,
                                    double wall_time_s) {
  std::string summary;
  for (const auto& [tag, value] : values) {
    std::string summary_value;
    put_bytes(summary_value, kValueTag, tag);
    put_float(summary_value, kValueSimpleValue, static_cast<float>(value));
    put_bytes(summary, kSummaryValue, summary_value);
  }
  std::string event;
  put_double(event, kEventWallTime, wall_time_s);
  put_int64(event, kEventStep, step);  // written even at 0, which proto3 would omit; readers accept both
  put_bytes(event, kEventSummary, summary);
  write_record(event);
}

void TensorBoardWriter::mark_restart(int64_t step, double wall_time_s) {
  std::string session_log;
  put_key(session_log, kSessionLogStatus, kVarint);
  put_varint(session_log, kSessionLogStart);
  std::string event;
  put_double(event, kEventWallTime, wall_time_s);
  put_int64(event, kEventStep, step);
  put_bytes(event, kEventSessionLog, session_log);
  write_record(event);
}

void TensorBoardWriter::flush() {
  out_.flush();
  if (!out_) throw std::runtime_error("TensorBoardWriter: cannot write '" + path_ + "'");
}

// TFRecord framing: length, its masked CRC, the data, the data's masked CRC.
void TensorBoardWriter::write_record(const std::string& data) {
  std::string header;
  put_little_endian(header, data.size(), 8);
  std::string record = header;
  put_little_endian(record, masked_crc32c(header.data(), header.size()), 4);
  record += data;
  put_little_endian(record, masked_crc32c(data.data(), data.size()), 4);
  out_.write(record.data(), static_cast<std::streamsize>(record.size()));
  if (!out_) throw std::runtime_error("TensorBoardWriter: cannot write '" + path_ + "'");
}

}  // namespace opd
