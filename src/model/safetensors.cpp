#include "opd/model/safetensors.h"

#include "opd/core/atomic_file.h"
#include "opd/core/json_text.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors I/O assumes a little-endian host (the format stores little-endian bytes)"
#endif

namespace opd::model {
namespace {

using json = nlohmann::json;

// The reference implementation refuses headers above this size; so do we, which
// also keeps a garbage length from turning into a huge allocation.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr uint64_t kLengthPrefixBytes = 8;

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16},
    {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
    {"U8", at::kByte},    {"BOOL", at::kBool},
};

std::string supported_dtype_list() {
  std::string out;
  for (const auto& d : kDtypes) {
    out += out.empty() ? "" : ", ";
    out += d.name;
  }
  return out;
}

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

std::string range_string(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// A whole file mapped privately (copy-on-write): tensors may view it, and an
// in-place op on such a tensor copies the page instead of faulting or changing
// the file. Unmapped when the last tensor viewing it dies.
class MappedFile {
 public:
  MappedFile(uint8_t* data, size_t size) : data_(data), size_(size) {}
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_;
  size_t size_;
};

std::shared_ptr<MappedFile> map_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    TORCH_CHECK(err != ENOENT, "read_safetensors: no such file: ", path);
    TORCH_CHECK(false, "read_safetensors: cannot open ", path, ": ", std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    TORCH_CHECK(false, "read_safetensors: cannot stat ", path, ": ", std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    TORCH_CHECK(false, "read_safetensors: ", path,
                S_ISDIR(st.st_mode) ? " is a directory" : " is not a regular file",
                ", expected a .safetensors file");
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size < kLengthPrefixBytes) {
    ::close(fd);
    TORCH_CHECK(false, "read_safetensors: ", path, " is truncated: file has ", size,
                " bytes, less than the 8-byte header length at offset 0");
  }
  void* data = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  if (data == MAP_FAILED) {
    // A writable private mapping counts against the commit limit; a read-only one
    // does not, so fall back to it rather than fail on a huge file.
    data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  }
  const int err = errno;
  ::close(fd);
  TORCH_CHECK(data != MAP_FAILED, "read_safetensors: cannot mmap ", path, " (", size,
              " bytes): ", std::strerror(err));
  return std::make_shared<MappedFile>(static_cast<uint8_t*>(data), size);
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// One tensor's header entry, validated against itself (not yet the buffer).
struct HeaderEntry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

HeaderEntry parse_entry(const std::string& where, const std::string& name, const json& j) {
  const std::string what = where + ": tensor '" + name + "'";
  TORCH_CHECK(j.is_object(), what, " must map to an object with dtype, shape and data_offsets, got ",
              j.type_name());
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    TORCH_CHECK(j.contains(key), what, " has no \"", key, "\" field");
  }
  const json& jd = j.at("dtype");
  TORCH_CHECK(jd.is_string(), what, " has a dtype that is not a string: ", jd.dump());
  const std::string dtype_name = jd.get<std::string>();
  const DtypeInfo* dtype = find_dtype(dtype_name);
  TORCH_CHECK(dtype != nullptr, what, " has unknown or unsupported dtype '", dtype_name,
              "' (supported: ", supported_dtype_list(), ")");

  const json& js = j.at("shape");
  bool shape_ok = js.is_array();
  std::vector<int64_t> shape;
  uint64_t numel = 1;
  bool numel_overflow = false;
  if (shape_ok) {
    for (const json& d : js) {
      if (!d.is_number_unsigned() ||
          d.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        shape_ok = false;
        break;
      }
      const uint64_t dim = d.get<uint64_t>();
      shape.push_back(static_cast<int64_t>(dim));
      numel_overflow = numel_overflow || __builtin_mul_overflow(numel, dim, &numel);
    }
  }
  TORCH_CHECK(shape_ok, what, " has shape ", js.dump(),
              ", expected a list of non-negative integers");

  const json& jo = j.at("data_offsets");
  const bool offsets_ok = jo.is_array() && jo.size() == 2 && jo[0].is_number_unsigned() &&
                          jo[1].is_number_unsigned() && jo[0].get<uint64_t>() <= jo[1].get<uint64_t>();
  TORCH_CHECK(offsets_ok, what, " has data_offsets ", jo.dump(),
              ", expected [begin, end] with 0 <= begin <= end");
  const uint64_t begin = jo[0].get<uint64_t>();
  const uint64_t end = jo[1].get<uint64_t>();

  const auto element_size = static_cast<uint64_t>(c10::elementSize(dtype->type));
  uint64_t nbytes = 0;
  TORCH_CHECK(!numel_overflow && !__builtin_mul_overflow(numel, element_size, &nbytes), what,
              " has shape ", shape_string(shape), " whose byte size overflows 64 bits");
  TORCH_CHECK(end - begin == nbytes, what, " data_offsets ", range_string(begin, end),
              " do not match dtype ", dtype->name, " shape ", shape_string(shape), " (", nbytes,
              " bytes)");
  return HeaderEntry{name, dtype, std::move(shape), begin, end};
}

// The header in file order: every tensor entry (sorted by name) and the metadata.
std::pair<std::vector<HeaderEntry>, std::map<std::string, std::string>> parse_header(
    const std::string& where, const char* text, uint64_t length) {
  json header;
  const std::string error = parse_json_text(std::string_view(text, length), header);
  TORCH_CHECK(error.empty(), where, ": header (", length, " bytes at offset 8) is not valid JSON: ", error);
  TORCH_CHECK(header.is_object(), where, ": header (", length,
              " bytes at offset 8) must be a JSON object, got ", header.type_name());

  std::map<std::string, std::string> metadata;
  std::vector<HeaderEntry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      TORCH_CHECK(value.is_object(), where, ": header field \"__metadata__\" must be an object, got ",
                  value.type_name());
      for (const auto& [mk, mv] : value.items()) {
        TORCH_CHECK(mv.is_string(), where, ": \"__metadata__\" value for key '", mk,
                    "' must be a string, got ", mv.dump());
        metadata.emplace(mk, mv.get<std::string>());
      }
      continue;
    }
    entries.push_back(parse_entry(where, key, value));
  }
  return {std::move(entries), std::move(metadata)};
}

// Checks that the byte ranges lie inside the buffer and tile it exactly (no
// overlap, no gap, nothing after the last tensor), as the reference reader does.
void check_layout(const std::string& where, const std::vector<HeaderEntry>& entries,
                  uint64_t buffer_size) {
  for (const auto& e : entries) {
    TORCH_CHECK(e.end <= buffer_size, where, ": tensor '", e.name, "' ends at byte ", e.end,
                " of a ", buffer_size,
                "-byte data buffer (data_offsets ", range_string(e.begin, e.end),
                "): the file is truncated or its header is corrupt");
  }
  std::vector<const HeaderEntry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const HeaderEntry* a, const HeaderEntry* b) {
    return std::tie(a->begin, a->end, a->name) < std::tie(b->begin, b->end, b->name);
  });
  uint64_t covered = 0;
  const HeaderEntry* previous = nullptr;
  for (const HeaderEntry* e : by_offset) {
    TORCH_CHECK(e->begin >= covered, where, ": tensor '", e->name, "' data_offsets ",
                range_string(e->begin, e->end), " overlap tensor '",
                previous ? previous->name : std::string(), "' data_offsets ",
                previous ? range_string(previous->begin, previous->end) : std::string());
    TORCH_CHECK(e->begin == covered, where, ": data buffer bytes ", range_string(covered, e->begin),
                " belong to no tensor (gap before tensor '", e->name, "')");
    covered = e->end;
    previous = e;
  }
  TORCH_CHECK(covered == buffer_size, where, ": data buffer has ", buffer_size,
              " bytes but the tensors end at byte ", covered, " (", buffer_size - covered,
              " unaccounted trailing bytes)");
}

at::Tensor make_tensor(const std::string& where, const HeaderEntry& e,
                       const std::shared_ptr<MappedFile>& file, uint8_t* data) {
  const auto options = at::TensorOptions().dtype(e.dtype->type).device(at::kCPU);
  const uint64_t nbytes = e.end - e.begin;
  if (nbytes == 0) return at::empty(e.shape, options);
  if (e.dtype->type == at::kBool) {
    // ATen assumes bools are 0 or 1; anything else is undefined behaviour later.
    const uint8_t* bad = std::find_if(data, data + nbytes, [](uint8_t b) { return b > 1; });
    TORCH_CHECK(bad == data + nbytes, where, ": tensor '", e.name, "' (BOOL) has byte value ",
                static_cast<int>(*bad), " at element ", bad - data, ", expected 0 or 1");
  }
  const auto element_size = static_cast<uintptr_t>(c10::elementSize(e.dtype->type));
  if (reinterpret_cast<uintptr_t>(data) % element_size != 0) {
    // Writers that do not order tensors by alignment leave some misaligned; ATen
    // kernels may assume natural alignment, so give those their own storage.
    at::Tensor copy = at::empty(e.shape, options);
    std::memcpy(copy.data_ptr(), data, nbytes);
    return copy;
  }
  return at::from_blob(
      data, e.shape, [keep_alive = file](void*) mutable { keep_alive.reset(); }, options);
}

// Throws, naming what s is, when s is not valid UTF-8 (JSON strings must be).
void check_utf8(const std::string& where, const char* what, const std::string& s) {
  try {
    (void)json(s).dump();
  } catch (const json::exception&) {
    TORCH_CHECK(false, where, ": ", what, " '", s, "' is not valid UTF-8");
  }
}

}  // namespace

std::string safetensors_dtype_name(at::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (d.type == type) return d.name;
  }
  TORCH_CHECK(false, "safetensors: dtype ", type, " is not supported (supported: ",
              supported_dtype_list(), ")");
}

SafetensorsFile read_safetensors(const std::string& path) {
  const std::string where = "read_safetensors: " + path;
  std::shared_ptr<MappedFile> file = map_file(path);
  const uint64_t file_size = file->size();
  const uint64_t header_size = read_u64_le(file->data());
  TORCH_CHECK(header_size <= kMaxHeaderBytes, where, ": header length at offset 0 is ",
              header_size, " bytes, above the ", kMaxHeaderBytes,
              "-byte limit (not a safetensors file, or a corrupt one)");
  TORCH_CHECK(header_size <= file_size - kLengthPrefixBytes, "read_safetensors: ", path, " is truncated: header says ", header_size,
              " bytes at offset 8, file has ", file_size, " bytes");
  auto [entries, metadata] = parse_header(
      where, reinterpret_cast<const char*>(file->data()) + kLengthPrefixBytes, header_size);
  const uint64_t buffer_offset = kLengthPrefixBytes + header_size;
  check_layout(where, entries, file_size - buffer_offset);

  SafetensorsFile out;
  out.metadata = std::move(metadata);
  for (const auto& e : entries) {
    out.tensors.emplace(e.name, make_tensor(where, e, file, file->data() + buffer_offset + e.begin));
  }
  return out;
}

void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string where = "write_safetensors: " + path;
  json header = json::object();
  if (!metadata.empty()) {
    json meta = json::object();
    for (const auto& [key, value] : metadata) {
      check_utf8(where, "metadata key", key);
      check_utf8(where, "metadata value", value);
      meta[key] = value;
    }
    header["__metadata__"] = std::move(meta);
  }
  // Data order: widest elements first, then by name (as the reference writer),
  // so every tensor starts aligned to its element size in the 8-aligned buffer.
  std::vector<std::pair<std::string, at::Tensor>> ordered(tensors.begin(), tensors.end());
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return a.second.defined() && b.second.defined() &&
           a.second.element_size() > b.second.element_size();
  });
  uint64_t offset = 0;
  for (const auto& [name, tensor] : ordered) {
    TORCH_CHECK(name != "__metadata__", where,
                ": a tensor may not be named \"__metadata__\" (the header reserves it)");
    check_utf8(where, "tensor name", name);
    TORCH_CHECK(tensor.defined(), where, ": tensor '", name, "' is undefined");
    std::string dtype;
    try {
      dtype = safetensors_dtype_name(tensor.scalar_type());
    } catch (const c10::Error&) {
      TORCH_CHECK(false, where, ": tensor '", name, "' has dtype ", tensor.scalar_type(),
                  ", which safetensors I/O does not support (supported: ", supported_dtype_list(),
                  ")");
    }
    const auto nbytes = static_cast<uint64_t>(tensor.numel()) * tensor.element_size();
    header[name] = {{"dtype", dtype},
                    {"shape", tensor.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }

  std::string text = header.dump();
  // Pad with spaces (valid trailing JSON whitespace) so the data buffer starts
  // 8-byte aligned, as the reference writer does.
  text.append((kLengthPrefixBytes - (kLengthPrefixBytes + text.size()) % kLengthPrefixBytes) %
                  kLengthPrefixBytes,
              ' ');
  uint8_t prefix[kLengthPrefixBytes];
  for (size_t i = 0; i < kLengthPrefixBytes; ++i) {
    prefix[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
  }

  AtomicFileWriter out(path);
  out.write(prefix, sizeof(prefix));
  out.write(text.data(), text.size());
  for (const auto& [name, tensor] : ordered) {
    // One tensor at a time, so a GPU state dict never needs a full host copy.
    const at::Tensor cpu = tensor.detach().to(at::kCPU).contiguous();
    out.write(cpu.data_ptr(), static_cast<size_t>(cpu.numel()) * cpu.element_size());
  }
  out.commit();
}

}  // namespace opd::model
