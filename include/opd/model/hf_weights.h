// The weights of an HF model directory: either one model.safetensors, or
// model.safetensors.index.json ({"metadata": {"total_size": N}, "weight_map":
// {name: shard file}}) plus the shards model-0000i-of-0000n.safetensors.
#pragma once

#include "opd/model/safetensors.h"

#include <cstdint>
#include <map>
#include <string>

namespace opd::model {

// Returns every weight of the HF model directory dir (CPU tensors that may view
// the files; copy them into parameters). model.safetensors wins when both it and
// the index exist (as in transformers). Throws c10::Error naming the file and
// the problem when dir is missing, holds neither file, the index is malformed,
// names a shard that does not exist or a tensor its shard lacks, or a shard holds
// a tensor the index does not list; errors inside a file come from read_safetensors.
// `file_of`, when given, receives each tensor's file (relative to dir), so that
// callers can name it in their own errors.
TensorMap read_hf_weights(const std::string& dir, std::map<std::string, std::string>* file_of = nullptr);

struct WeightWriteOptions {
  int64_t max_shard_bytes = int64_t{5} << 30;  // tensor bytes per shard, e.g. 5 GiB as save_pretrained
};

// Writes tensors into the existing directory dir as model.safetensors (when they
// fit one shard) or as model-0000i-of-0000n.safetensors shards filled in name
// order plus model.safetensors.index.json, each file atomically; then removes the
// weight files of an earlier layout that the new one does not use. The same
// tensors give byte-identical files. Throws c10::Error when dir does not exist,
// max_shard_bytes <= 0, a tensor cannot be written (see write_safetensors) or a
// file operation fails.
void write_hf_weights(const std::string& dir, const TensorMap& tensors,
                      const WeightWriteOptions& options = {});

}  // namespace opd::model
