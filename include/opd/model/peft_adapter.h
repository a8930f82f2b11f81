// A LoRA student's adapters in the layout PEFT saves, so that
// `PeftModel.from_pretrained(base, dir)` applies them to the base model:
// adapter_config.json (r, lora_alpha, lora_dropout, target_modules, the base
// model's path) and adapter_model.safetensors under PEFT's tensor names.
#pragma once

#include "opd/model/causal_lm.h"
#include "opd/model/lora.h"

#include <string>

namespace opd::model {

// PEFT's name of an adapter weight:
// "model.layers.0.self_attn.q_proj.lora_A" -> "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight".
std::string peft_weight_name(const std::string& name);

// Writes `model`'s adapters (added with `spec`) to the directory `dir`,
// atomically; `base_model` is recorded as base_model_name_or_path. Throws
// when the model has no adapters or one holds NaN or Inf.
void save_peft_adapter(CausalLM& model, const LoraSpec& spec, const std::string& dir, const std::string& base_model);

}  // namespace opd::model
