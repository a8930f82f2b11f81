// The decoder's shape and numerics, read from an HF `config.json`. One struct
// covers the Qwen3, Qwen2, Llama and Mistral families; the differences are
// fields (biases, q/k-norm, head_dim, sliding window, RoPE scaling).
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

namespace opd::model {

enum class Architecture { kQwen3, kQwen2, kLlama, kMistral };

struct RopeScaling {
  enum class Kind { kNone, kLlama3 };
  Kind kind = Kind::kNone;
  double factor = 1.0;                          // e.g. 8.0 (Llama 3.1)
  double low_freq_factor = 1.0;                 // e.g. 1.0
  double high_freq_factor = 4.0;                // e.g. 4.0
  int64_t original_max_position_embeddings = 0; // e.g. 8192
};

struct ModelConfig {
  Architecture architecture = Architecture::kQwen3;
  int64_t vocab_size = 0;               // e.g. 151936
  int64_t hidden_size = 0;              // e.g. 1024
  int64_t intermediate_size = 0;        // e.g. 3072
  int64_t num_hidden_layers = 0;        // e.g. 28
  int64_t num_attention_heads = 0;      // e.g. 16
  int64_t num_key_value_heads = 0;      // e.g. 8 (GQA); = heads for MHA
  int64_t head_dim = 0;                 // e.g. 128
  int64_t max_position_embeddings = 0;  // e.g. 40960
  double rope_theta = 10000.0;          // e.g. 1e6
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;     // lm_head shares embed_tokens.weight
  bool qkv_bias = false;                // Qwen2: true
  bool o_proj_bias = false;             // Llama/Qwen3 attention_bias applies here too
  bool mlp_bias = false;                // Llama mlp_bias
  bool qk_norm = false;                 // Qwen3: RMSNorm over head_dim on q and k
  int64_t sliding_window = 0;           // Mistral; 0 = full attention
  RopeScaling rope_scaling;
  c10::ScalarType dtype = c10::ScalarType::Float;  // `torch_dtype`: how weights are stored
  std::vector<int64_t> eos_token_ids;   // from `eos_token_id` (int or list)
  int64_t bos_token_id = -1;            // -1 when absent
  // config.json as read (or as built for a new model); saving writes it back
  // with our fields updated, so keys we do not model survive a round trip.
  std::string json;
};

// Parses config.json text; `where` names the file in errors. Throws one
// c10::Error naming the key and the value on a missing or bad field.
ModelConfig parse_model_config(const std::string& json_text, const std::string& where);
// Reads <dir>/config.json; throws when the directory or the file is missing.
ModelConfig read_model_config(const std::string& dir);
// config.json text (sorted keys, 2-space indent): `config.json` as read with
// every modelled field set from the struct.
std::string model_config_json(const ModelConfig& config);

// generation_config.json as transformers derives it from a config.json that
// comes without one (GenerationConfig.from_model_config): the token ids.
std::string generation_config_json(const ModelConfig& config);

// The weights `config` implies, roughly (embeddings, attention and MLP
// projections; a tied lm_head counted once), in double so no size overflows.
double approximate_parameters(const ModelConfig& config);
// Throws, naming `where` and the sizes, when the model's weights in `dtype`
// would not fit in this machine's physical memory: a CPU model is refused
// before anything is allocated (else the allocation fails, or the kernel's
// OOM killer ends the process as the weights are written).
void check_weights_fit_in_memory(const ModelConfig& config, c10::ScalarType dtype, const std::string& where);

const char* architecture_name(Architecture a);  // "qwen3", ...
// "bfloat16" / "float16" / "float32" <-> ScalarType; throws on anything else.
c10::ScalarType dtype_from_name(const std::string& name, const std::string& where);
std::string dtype_name(c10::ScalarType dtype);

}  // namespace opd::model
