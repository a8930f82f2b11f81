// LoRA adapters on a model's projections (q/k/v/o, gate/up/down), and the
// adapter weights alone (a checkpoint's resumable state). save_pretrained
// merges adapters into their weights, so a saved model is a plain HF one.
#pragma once

#include "opd/model/causal_lm.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace opd::model {

struct LoraSpec {
  int64_t rank = 0;  // 0 = no adapters
  double alpha = 16.0;
  double dropout = 0.0;
  std::vector<std::string> targets = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
};

// The projection names a spec may target.
const std::vector<std::string>& lora_target_names();

// Adds an adapter to every projection whose name is in spec.targets (A drawn
// from a generator seeded with `seed`, in module order) and returns how many.
// Throws naming an unknown target.
int64_t add_lora(CausalLM& model, const LoraSpec& spec, uint64_t seed);

// "model.layers.0.self_attn.q_proj.lora_A" -> tensor, for every adapter.
std::map<std::string, at::Tensor> lora_weights(CausalLM& model);

// Whether a parameter name is an adapter's (named_weights leaves those out).
bool is_lora_weight(const std::string& name);

}  // namespace opd::model
