#include "opd/model/tiny_model.h"

#include "opd/model/pretrained.h"

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>
#include <ATen/core/grad_mode.h>

namespace opd::model {

ModelConfig tiny_config(const TinyModelSpec& s) {
  nlohmann::json j = {
      {"model_type", architecture_name(s.architecture)},
      {"vocab_size", s.vocab_size},
      {"hidden_size", s.hidden_size},
      {"intermediate_size", s.intermediate_size},
      {"num_hidden_layers", s.num_hidden_layers},
      {"num_attention_heads", s.num_attention_heads},
      {"num_key_value_heads", s.num_key_value_heads},
      {"head_dim", s.head_dim},
      {"max_position_embeddings", s.max_position_embeddings},
      {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", s.rope_theta}}},
      {"rms_norm_eps", 1e-6},
      {"tie_word_embeddings", s.tie_word_embeddings},
      {"hidden_act", "silu"},
      {"dtype", dtype_name(s.dtype)},
      {"eos_token_id", s.eos_token_id},
      {"bos_token_id", nullptr},
  };
  return parse_model_config(j.dump(), "tiny model spec");
}

CausalLM make_tiny_model(const TinyModelSpec& spec) {
  const auto config = tiny_config(spec);
  check_weights_fit_in_memory(config, at::kFloat, "tiny model spec");  // initialised in fp32
  CausalLM model(config);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(spec.seed);
  at::NoGradGuard no_grad;
  for (auto& [name, param] : named_weights(model)) {  // sorted: init order is fixed
    const bool is_norm = name.find("norm") != std::string::npos;
    const bool is_bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (is_norm) {
      param.fill_(1.0);
    } else if (is_bias) {
      param.zero_();
    } else {
      const bool is_vocab = name.find("embed_tokens") != std::string::npos ||
                            name.find("lm_head") != std::string::npos;
      const double std = is_vocab && spec.embed_std > 0 ? spec.embed_std : spec.init_std;
      param.normal_(0.0, std, gen);
    }
  }
  return model;
}

}  // namespace opd::model
