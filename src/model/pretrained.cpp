#include "opd/model/pretrained.h"

#include "opd/core/atomic_file.h"
#include "opd/core/text_file.h"

#include "opd/model/hf_weights.h"
#include "opd/model/lora.h"
#include "opd/model/projection.h"
#include "opd/model/weight_init.h"

#include <ATen/core/grad_mode.h>
#include <c10/core/DefaultDtype.h>
#include <c10/core/ScalarTypeToTypeMeta.h>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <set>

namespace opd::model {
namespace fs = std::filesystem;
namespace {

// Files HF tooling expects next to the weights; copied when present.
constexpr const char* kCompanionFiles[] = {
    "tokenizer.json",  "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
    "merges.txt",      "tokenizer.model",       "added_tokens.json",       "generation_config.json",
    "chat_template.jinja"};

// Tensors some checkpoints carry that the model does not own.
bool ignorable(const std::string& name, const ModelConfig& config) {
  if (name.find("rotary_emb.inv_freq") != std::string::npos) return true;
  return config.tie_word_embeddings && name == "lm_head.weight";
}

// The default dtype set for a scope (it is process-wide: loading happens before any other thread computes).
class DefaultDtypeGuard {
 public:
  explicit DefaultDtypeGuard(at::ScalarType dtype) : previous_(c10::get_default_dtype()) {
    c10::set_default_dtype(c10::scalarTypeToTypeMeta(dtype));
  }
  ~DefaultDtypeGuard() { c10::set_default_dtype(previous_); }
  DefaultDtypeGuard(const DefaultDtypeGuard&) = delete;
  DefaultDtypeGuard& operator=(const DefaultDtypeGuard&) = delete;

 private:
  caffe2::TypeMeta previous_;
};

std::string shape_string(at::IntArrayRef s) {
  std::ostringstream out;
  out << s;
  return out.str();
}

}  // namespace

std::map<std::string, at::Tensor> named_weights(CausalLM& model) {
  std::map<std::string, at::Tensor> out;
  for (const auto& item : model->named_parameters(/*recurse=*/true)) {
    if (!is_lora_weight(item.key())) out[item.key()] = item.value();
  }
  return out;
}

CausalLM load_pretrained(const std::string& dir, const LoadOptions& options) {
  ModelConfig config = read_model_config(dir);
  const at::ScalarType dtype = options.dtype.value_or(config.dtype);
  std::map<std::string, std::string> file_of;
  TensorMap stored = read_hf_weights(dir, &file_of);

  // Built uninitialised in the compute dtype on the target device, so a bf16
  // model never has an fp32 copy, a GPU model no host copy, and loading draws
  // no random numbers; each weight is then copied from the mapped file.
  if (options.device.is_cpu()) check_weights_fit_in_memory(config, dtype, (fs::path(dir) / "config.json").string());
  CausalLM model{nullptr};
  {
    DefaultDtypeGuard in_dtype(dtype);
    UninitializedWeights filled_below(options.device);  // every weight is copied in below, or refused
    model = CausalLM(config);
  }
  at::NoGradGuard no_grad;
  auto params = named_weights(model);
  for (auto& [name, param] : params) {
    auto it = stored.find(name);
    TORCH_CHECK(it != stored.end(), "model directory '", dir, "': tensor '", name, "' is missing from ",
                fs::exists(fs::path(dir) / "model.safetensors") ? "model.safetensors"
                                                                 : "the shards of model.safetensors.index.json");
    const std::string where = "model directory '" + dir + "', " + file_of[name];
    TORCH_CHECK(it->second.sizes() == param.sizes(), where, ": tensor '", name, "' has shape ",
                shape_string(it->second.sizes()), " but config.json implies ", shape_string(param.sizes()));
    TORCH_CHECK(it->second.is_floating_point(), where, ": tensor '", name, "' has non-float dtype ",
                it->second.scalar_type());
    // A model with NaN or Inf weights samples and scores garbage without a word: refused here. A
    // double sum is non-finite exactly then, and (unlike isfinite) allocates nothing the tensor's size.
    TORCH_CHECK(std::isfinite(it->second.sum(at::kDouble).item<double>()), where, ": tensor '", name,
                "' holds NaN or Inf");
    // From the mapped file into the weight, already on its device in its dtype.
    param.copy_(it->second);
  }
  for (const auto& [name, tensor] : stored) {
    TORCH_CHECK(params.count(name) || ignorable(name, config), "model directory '", dir, "', ",
                file_of[name], ": unexpected tensor '", name, "' (", architecture_name(config.architecture),
                " with ", config.num_hidden_layers, " layers has no such weight)");
  }
  model->to(options.device, dtype);
  return model;
}

void save_pretrained(CausalLM& model, const std::string& dir, const SaveOptions& options) {
  ModelConfig config = model->config();
  config.dtype = options.dtype.value_or(config.dtype);
  // Adapters are merged into their weights: the directory is a plain HF model.
  std::map<std::string, at::Tensor> merged;
  for (const auto& item : model->named_modules()) {
    const auto* projection = dynamic_cast<const ProjectionImpl*>(item.value().get());
    if (projection != nullptr && projection->has_lora()) merged[item.key() + ".weight"] = projection->merged_weight();
  }
  TensorMap tensors;
  for (const auto& [name, param] : named_weights(model)) {
    const auto it = merged.find(name);
    auto t = it != merged.end() ? it->second : param.detach();
    TORCH_CHECK(t.isfinite().all().item<bool>(), "save_pretrained: refusing to save '", dir,
                "': tensor '", name, "' holds NaN or Inf");
    tensors[name] = t.to(at::kCPU, config.dtype).contiguous();
  }

  // Every file is fsynced before the directory is renamed into place, so the
  // rename never publishes a directory whose files a crash could leave empty.
  write_directory_atomically(dir, [&](const std::string& temp) {
    const fs::path tmp(temp);
    write_file_atomically((tmp / "config.json").string(), model_config_json(config));
    write_hf_weights(tmp.string(), tensors, WeightWriteOptions{options.max_shard_bytes});
    if (!options.copy_files_from.empty()) {
      for (const char* name : kCompanionFiles) {
        const fs::path src = fs::path(options.copy_files_from) / name;
        if (fs::is_regular_file(src)) write_file_atomically((tmp / name).string(), read_text_file(src.string()));
      }
    }
    // As save_pretrained: every model directory has one (generate() reads it).
    if (!fs::exists(tmp / "generation_config.json")) {
      write_file_atomically((tmp / "generation_config.json").string(), generation_config_json(config));
    }
  });
}

int64_t weights_bytes(const std::string& dir) {
  namespace fs = std::filesystem;
  int64_t bytes = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".safetensors") bytes += static_cast<int64_t>(entry.file_size(ec));
  }
  return bytes;
}

}  // namespace opd::model
