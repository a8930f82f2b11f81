#include "opd/model/hf_weights.h"

#include "opd/core/atomic_file.h"
#include "opd/core/text_file.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace opd::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

// True for "model-00001-of-00002.safetensors" (any run of >= 1 digits).
bool is_shard_file_name(const std::string& name) {
  auto digits = [&](size_t& pos) {
    const size_t start = pos;
    while (pos < name.size() && std::isdigit(static_cast<unsigned char>(name[pos]))) ++pos;
    return pos > start;
  };
  auto literal = [&](size_t& pos, const std::string& text) {
    if (name.compare(pos, text.size(), text) != 0) return false;
    pos += text.size();
    return true;
  };
  size_t pos = 0;
  return literal(pos, "model-") && digits(pos) && literal(pos, "-of-") && digits(pos) &&
         literal(pos, ".safetensors") && pos == name.size();
}

std::string shard_file_name(size_t index, size_t count) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "model-%05zu-of-%05zu.safetensors", index + 1, count);
  return buf;
}

// A weight_map value must name a file inside the directory.
bool is_safe_relative_path(const std::string& shard) {
  const fs::path p(shard);
  if (shard.empty() || p.is_absolute()) return false;
  for (const auto& part : p) {
    if (part == "..") return false;
  }
  return true;
}

TensorMap read_sharded(const fs::path& root, const fs::path& index_path,
                       std::map<std::string, std::string>& file_of) {
  const std::string where = "read_hf_weights: " + index_path.string();
  const std::string text = read_text_file(index_path.string());
  json index;
  try {
    index = json::parse(text);
  } catch (const json::exception& e) {
    TORCH_CHECK(false, where, " is not valid JSON: ", e.what());
  }
  TORCH_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
              where, " has no \"weight_map\" object (expected {\"metadata\": {...}, \"weight_map\": "
              "{tensor name: shard file}})");

  std::map<std::string, std::vector<std::string>> names_by_shard;
  std::map<std::string, std::string> shard_of;
  for (const auto& [name, shard] : index["weight_map"].items()) {
    TORCH_CHECK(shard.is_string(), where, ": weight_map maps tensor '", name,
                "' to ", shard.dump(), ", expected a shard file name");
    const std::string file = shard.get<std::string>();
    TORCH_CHECK(is_safe_relative_path(file), where, ": weight_map maps tensor '", name,
                "' to shard '", file, "', which is not a file inside ", root.string());
    names_by_shard[file].push_back(name);
    shard_of.emplace(name, file);
  }

  TensorMap out;
  for (const auto& [file, names] : names_by_shard) {
    const fs::path shard_path = root / file;
    std::error_code ec;
    TORCH_CHECK(fs::is_regular_file(shard_path, ec), where, " maps tensor '", names.front(), "'",
                names.size() > 1 ? " (and " + std::to_string(names.size() - 1) + " more)" : "",
                " to shard '", file, "', which does not exist (looked for ",
                shard_path.string(), ")");
    SafetensorsFile shard = read_safetensors(shard_path.string());
    for (auto& [name, tensor] : shard.tensors) {
      const auto it = shard_of.find(name);
      TORCH_CHECK(it != shard_of.end(), where, ": shard '", file, "' holds tensor '", name,
                  "', which the index does not list");
      TORCH_CHECK(it->second == file, where, ": shard '", file, "' holds tensor '", name,
                  "', which the index maps to shard '", it->second, "'");
      file_of[name] = file;
      out.emplace(name, std::move(tensor));
    }
    for (const auto& name : names) {
      TORCH_CHECK(out.count(name) != 0, where, " maps tensor '", name, "' to shard '", file,
                  "', which does not contain it (", shard_path.string(), ")");
    }
  }
  return out;
}

}  // namespace

TensorMap read_hf_weights(const std::string& dir, std::map<std::string, std::string>* file_of) {
  const fs::path root(dir);
  std::error_code ec;
  TORCH_CHECK(fs::exists(root, ec), "read_hf_weights: no such directory: ", dir);
  TORCH_CHECK(fs::is_directory(root, ec), "read_hf_weights: ", dir, " is not a directory");
  const fs::path single = root / kSingleFile;
  const fs::path index = root / kIndexFile;
  std::map<std::string, std::string> files;
  TensorMap out;
  if (fs::exists(single, ec)) {
    out = read_safetensors(single.string()).tensors;
    for (const auto& entry : out) files[entry.first] = kSingleFile;
  } else {
    TORCH_CHECK(fs::exists(index, ec), "read_hf_weights: ", dir, " has neither ", kSingleFile,
                " nor ", kIndexFile, " (looked for ", single.string(), " and ", index.string(), ")");
    out = read_sharded(root, index, files);
  }
  if (file_of != nullptr) *file_of = std::move(files);
  return out;
}

void write_hf_weights(const std::string& dir, const TensorMap& tensors,
                      const WeightWriteOptions& options) {
  const fs::path root(dir);
  std::error_code ec;
  TORCH_CHECK(fs::is_directory(root, ec), "write_hf_weights: ", dir,
              " is not an existing directory");
  TORCH_CHECK(options.max_shard_bytes > 0, "write_hf_weights: max_shard_bytes must be > 0, got ",
              options.max_shard_bytes);

  // Check every tensor before writing anything, so a bad one late in name
  // order cannot leave a half-written set of shards behind.
  for (const auto& [name, tensor] : tensors) {
    TORCH_CHECK(tensor.defined(), "write_hf_weights: ", dir, ": tensor '", name, "' is undefined");
    try {
      (void)safetensors_dtype_name(tensor.scalar_type());
    } catch (const c10::Error&) {
      TORCH_CHECK(false, "write_hf_weights: ", dir, ": tensor '", name, "' has dtype ",
                  tensor.scalar_type(), ", which safetensors I/O does not support");
    }
  }

  // Fill shards in name order; a tensor that would push a non-empty shard over
  // the limit starts the next one (so one larger than the limit stands alone).
  std::vector<TensorMap> shards(1);
  int64_t shard_bytes = 0;
  int64_t total_bytes = 0;
  for (const auto& [name, tensor] : tensors) {
    const int64_t nbytes = tensor.numel() * static_cast<int64_t>(tensor.element_size());
    if (!shards.back().empty() && shard_bytes + nbytes > options.max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().emplace(name, tensor);
    shard_bytes += nbytes;
    total_bytes += nbytes;
  }

  std::set<std::string> written;
  if (shards.size() == 1) {
    write_safetensors((root / kSingleFile).string(), shards.front());
    written.insert(kSingleFile);
  } else {
    json weight_map = json::object();
    for (size_t i = 0; i < shards.size(); ++i) {
      const std::string file = shard_file_name(i, shards.size());
      write_safetensors((root / file).string(), shards[i]);
      written.insert(file);
      for (const auto& entry : shards[i]) weight_map[entry.first] = file;
    }
    // Same layout as transformers' save_pretrained (indent 2, sorted keys).
    const json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
    write_file_atomically((root / kIndexFile).string(), index.dump(2) + "\n");
    written.insert(kIndexFile);
  }

  // Only now drop an earlier layout's files: until here a reader still saw the
  // old, complete set (model.safetensors is read in preference to the index).
  std::vector<fs::path> stale;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    const bool weight_file = name == kSingleFile || name == kIndexFile || is_shard_file_name(name);
    if (weight_file && written.count(name) == 0) stale.push_back(entry.path());
  }
  TORCH_CHECK(!ec, "write_hf_weights: cannot list ", dir, ": ", ec.message());
  for (const auto& path : stale) {
    fs::remove(path, ec);
    TORCH_CHECK(!ec, "write_hf_weights: cannot remove stale ", path.string(), ": ", ec.message());
  }
}

}  // namespace opd::model
