#include "opd/model/lora.h"

#include "opd/model/projection.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>

#include <algorithm>

namespace opd::model {

const std::vector<std::string>& lora_target_names() {
  static const std::vector<std::string> names = LoraSpec{}.targets;
  return names;
}

bool is_lora_weight(const std::string& name) {
  return name.find(".lora_A") != std::string::npos || name.find(".lora_B") != std::string::npos;
}

int64_t add_lora(CausalLM& model, const LoraSpec& spec, uint64_t seed) {
  for (const auto& t : spec.targets) {
    const auto& known = lora_target_names();
    TORCH_CHECK(std::find(known.begin(), known.end(), t) != known.end(), "lora.targets: unknown projection '", t,
                "' (allowed: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)");
  }
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  int64_t added = 0;
  for (const auto& item : model->named_modules()) {
    auto* projection = dynamic_cast<ProjectionImpl*>(item.value().get());
    if (projection == nullptr) continue;
    const std::string& name = item.key();
    const std::string leaf = name.substr(name.rfind('.') + 1);
    if (std::find(spec.targets.begin(), spec.targets.end(), leaf) == spec.targets.end()) continue;
    projection->add_lora(spec.rank, spec.alpha, spec.dropout, gen);
    ++added;
  }
  return added;
}

std::map<std::string, at::Tensor> lora_weights(CausalLM& model) {
  std::map<std::string, at::Tensor> out;
  for (const auto& item : model->named_parameters(/*recurse=*/true)) {
    if (is_lora_weight(item.key())) out[item.key()] = item.value();
  }
  return out;
}

}  // namespace opd::model
