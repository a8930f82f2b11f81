// HF model directories in and out: config.json + safetensors (single file or
// sharded with an index), plus the tokenizer files that travel with a model.
#pragma once

#include "opd/model/causal_lm.h"

#include <map>
#include <optional>
#include <string>

namespace opd::model {

struct LoadOptions {
  std::optional<at::ScalarType> dtype;  // compute dtype; default: config.json's torch_dtype
  at::Device device = at::kCPU;
};

// Builds the model config.json describes and fills every parameter from the
// directory's safetensors. Throws one error naming the directory and the
// tensor when a weight is missing, unexpected, or of a shape config.json does
// not imply.
CausalLM load_pretrained(const std::string& dir, const LoadOptions& options = {});

struct SaveOptions {
  std::optional<at::ScalarType> dtype;         // storage dtype; default: config's torch_dtype
  int64_t max_shard_bytes = int64_t{5} << 30;  // larger models get sharded, e.g. 5 GiB
  std::string copy_files_from;                 // a model dir whose tokenizer files are copied
};

// The bytes of a model directory's .safetensors files (0 when it has none):
// what loading it reads, e.g. to say so before a load that takes a while.
int64_t weights_bytes(const std::string& dir);

// Writes an HF model directory atomically: everything goes to a temporary
// sibling that is renamed over `dir` only when complete. LoRA adapters are
// merged into the weights they adapt. Throws (leaving any
// previous `dir` intact) on non-finite weights or I/O failure.
void save_pretrained(CausalLM& model, const std::string& dir, const SaveOptions& options = {});

// Parameter name -> tensor, in checkpoint naming; LoRA adapters are left out (lora.h).
std::map<std::string, at::Tensor> named_weights(CausalLM& model);

}  // namespace opd::model
