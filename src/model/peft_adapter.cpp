#include "opd/model/peft_adapter.h"

#include "opd/core/atomic_file.h"
#include "opd/model/safetensors.h"

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace opd::model {

std::string peft_weight_name(const std::string& name) { return "base_model.model." + name + ".weight"; }

void save_peft_adapter(CausalLM& model, const LoraSpec& spec, const std::string& dir, const std::string& base_model) {
  TensorMap tensors;
  for (const auto& [name, t] : lora_weights(model)) {
    TORCH_CHECK(t.isfinite().all().item<bool>(), "save_peft_adapter: refusing to save '", dir, "': adapter '", name,
                "' holds NaN or Inf");
    tensors[peft_weight_name(name)] = t.detach().to(at::kCPU, at::kFloat).contiguous();
  }
  TORCH_CHECK(!tensors.empty(), "save_peft_adapter: the model has no LoRA adapters to save to '", dir, "'");
  // What PEFT's LoraConfig reads; the rest keeps its defaults. No rsLoRA:
  // scale = lora_alpha / r, as the adapters were trained.
  const nlohmann::json config = {
      {"peft_type", "LORA"},          {"task_type", "CAUSAL_LM"},      {"r", spec.rank},
      {"lora_alpha", spec.alpha},     {"lora_dropout", spec.dropout},  {"target_modules", spec.targets},
      {"bias", "none"},               {"fan_in_fan_out", false},       {"use_rslora", false},
      {"inference_mode", true},       {"base_model_name_or_path", base_model}};
  write_directory_atomically(dir, [&](const std::string& temp) {
    const std::filesystem::path tmp(temp);
    write_file_atomically((tmp / "adapter_config.json").string(), config.dump(2) + "\n");
    write_safetensors((tmp / "adapter_model.safetensors").string(), tensors);
  });
}

}  // namespace opd::model
