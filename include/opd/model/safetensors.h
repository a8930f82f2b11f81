// Reading and writing .safetensors files (the format HF checkpoints use):
// an 8-byte little-endian header length N, N bytes of JSON naming every tensor's
// dtype, shape and byte range, then the raw little-endian tensor bytes.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace opd::model {

// name -> tensor; sorted, so every walk over it (and every file written from it)
// is deterministic.
using TensorMap = std::map<std::string, at::Tensor>;

struct SafetensorsFile {
  TensorMap tensors;                            // CPU tensors, e.g. "model.norm.weight" -> [hidden]
  std::map<std::string, std::string> metadata;  // the header's "__metadata__", e.g. {"format": "pt"}
};

// Returns every tensor and the metadata of the .safetensors file at path. The
// tensors view a private copy-on-write mmap of the file (kept alive by their
// deleters; writing into them never changes the file); a tensor whose bytes are
// not aligned to its element size is copied instead. Supported dtypes: F64, F32,
// F16, BF16, I64, I32, I16, I8, U8, BOOL. Throws c10::Error naming the path and
// the problem when the file is missing, truncated, has a malformed header, an
// unknown dtype, or byte ranges that disagree with the shapes or the file size.
SafetensorsFile read_safetensors(const std::string& path);

// Writes tensors (any device, any strides; stored contiguous, in name order) and
// metadata to path atomically (core/atomic_file.h: a temporary beside it, fsynced,
// renamed over path). The same inputs always give the same bytes. Throws c10::Error (and
// leaves path untouched, with no temp file behind) on an undefined tensor, an
// unsupported dtype, a name that is "__metadata__" or not valid UTF-8, or an I/O
// failure.
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Returns the safetensors dtype name of a scalar type ("BF16" for at::kBFloat16);
// throws c10::Error when safetensors I/O does not support it.
std::string safetensors_dtype_name(at::ScalarType type);

}  // namespace opd::model
