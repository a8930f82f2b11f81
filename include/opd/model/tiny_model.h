// Small random models of any shape, for tests, demos and benchmarks.
#pragma once

#include "opd/model/causal_lm.h"

#include <cstdint>

namespace opd::model {

struct TinyModelSpec {
  Architecture architecture = Architecture::kQwen3;
  int64_t vocab_size = 256;
  int64_t hidden_size = 64;
  int64_t intermediate_size = 128;
  int64_t num_hidden_layers = 2;
  int64_t num_attention_heads = 4;
  int64_t num_key_value_heads = 2;
  int64_t head_dim = 16;
  int64_t max_position_embeddings = 4096;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = true;
  double init_std = 0.02;       // weight ~ N(0, init_std^2); norms 1, biases 0
  double embed_std = 0.0;       // embed_tokens (and lm_head) std; 0 = init_std. A large
                                // value makes a sharp, mostly token-driven model.
  uint64_t seed = 0;
  at::ScalarType dtype = at::kFloat;  // storage dtype written to config.json
  int64_t eos_token_id = 1;
};

// The config.json a tiny model of this spec has (architecture defaults apply:
// Qwen2 gets q/k/v biases, Qwen3 q/k-norm).
ModelConfig tiny_config(const TinyModelSpec& spec);
// A model of that config with seeded random weights (same seed, same weights).
CausalLM make_tiny_model(const TinyModelSpec& spec);

}  // namespace opd::model
