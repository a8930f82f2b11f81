#include "opd/model/model_config.h"

#include "opd/core/json_text.h"
#include "opd/core/text_file.h"

#include <unistd.h>

#include <c10/util/Exception.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace opd::model {
namespace {

using nlohmann::json;

// Reads typed fields of one config.json, naming file and key in every error.
class Fields {
 public:
  Fields(const json& j, const std::string& where) : j_(j), where_(where) {}

  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  int64_t positive_int(const char* key) const {
    TORCH_CHECK(has(key), where_, ": missing required key '", key, "'");
    return positive_int_value(key, j_.at(key));
  }
  int64_t positive_int(const char* key, int64_t fallback) const {
    return has(key) ? positive_int_value(key, j_.at(key)) : fallback;
  }
  double positive_number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const auto& v = j_.at(key);
    TORCH_CHECK(v.is_number() && v.get<double>() > 0, where_, ": '", key,
                "' must be a positive number, got ", v.dump());
    return v.get<double>();
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const auto& v = j_.at(key);
    TORCH_CHECK(v.is_boolean(), where_, ": '", key, "' must be true or false, got ", v.dump());
    return v.get<bool>();
  }
  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const auto& v = j_.at(key);
    TORCH_CHECK(v.is_string(), where_, ": '", key, "' must be a string, got ", v.dump());
    return v.get<std::string>();
  }
  const json& at(const char* key) const { return j_.at(key); }
  const std::string& where() const { return where_; }

 private:
  int64_t positive_int_value(const char* key, const json& v) const {
    TORCH_CHECK(v.is_number_integer() && v.get<int64_t>() > 0, where_, ": '", key,
                "' must be a positive integer, got ", v.dump());
    return v.get<int64_t>();
  }
  const json& j_;
  std::string where_;
};

Architecture parse_architecture(const Fields& f) {
  const std::string type = f.string("model_type", "");
  if (type == "qwen3") return Architecture::kQwen3;
  if (type == "qwen2") return Architecture::kQwen2;
  if (type == "llama") return Architecture::kLlama;
  if (type == "mistral") return Architecture::kMistral;
  TORCH_CHECK(false, f.where(), ": 'model_type' must be one of qwen3, qwen2, llama, mistral, got '",
              type, "'");
}

// transformers' defaults for keys a config.json may leave out, per family
// (the fields of Qwen3Config, Qwen2Config, LlamaConfig, MistralConfig).
struct FamilyDefaults {
  int64_t num_key_value_heads;      // 0 = as many as the attention heads
  int64_t head_dim;                 // 0 = hidden_size / num_attention_heads
  int64_t max_position_embeddings;
  int64_t sliding_window;           // when the key is missing (Mistral); 0 = none
  int64_t bos_token_id;             // when the key is missing; -1 = none
  int64_t eos_token_id;
};

FamilyDefaults family_defaults(Architecture a) {
  switch (a) {
    case Architecture::kQwen3: return {32, 128, 32768, 0, -1, -1};
    case Architecture::kQwen2: return {32, 0, 32768, 0, -1, -1};
    case Architecture::kLlama: return {0, 0, 2048, 0, 1, 2};
    case Architecture::kMistral: return {8, 0, 4096 * 32, 4096, 1, 2};
  }
  TORCH_INTERNAL_ASSERT(false, "unknown architecture");
}

// RoPE as transformers >= 5 reads it: `rope_parameters` ({rope_type,
// rope_theta, ...}), else the older `rope_scaling` dict beside a top-level
// `rope_theta`; a theta in the dict wins; 10000 when there is none. Needs
// c.max_position_embeddings (llama3's default original length).
void parse_rope(const Fields& f, ModelConfig& c) {
  const char* key = f.has("rope_parameters") ? "rope_parameters" : "rope_scaling";
  c.rope_theta = f.positive_number("rope_theta", 10000.0);
  if (!f.has(key)) return;
  const json& rs = f.at(key);
  TORCH_CHECK(rs.is_object(), f.where(), ": '", key, "' must be an object or null, got ", rs.dump());
  const std::string where = f.where() + " " + key;
  Fields s(rs, where);
  c.rope_theta = s.positive_number("rope_theta", c.rope_theta);
  TORCH_CHECK(s.positive_number("partial_rotary_factor", 1.0) == 1.0, where,
              ": partial_rotary_factor other than 1 is not supported");
  const std::string kind = s.string("rope_type", s.string("type", "default"));
  if (kind == "default") return;
  TORCH_CHECK(kind == "llama3", where, ": rope type '", kind,
              "' is not supported (supported: default, llama3)");
  for (const char* required : {"factor", "low_freq_factor", "high_freq_factor"}) {
    TORCH_CHECK(s.has(required), where, ": llama3 RoPE needs '", required, "'");
  }
  RopeScaling& out = c.rope_scaling;
  out.kind = RopeScaling::Kind::kLlama3;
  out.factor = s.positive_number("factor", 0.0);
  out.low_freq_factor = s.positive_number("low_freq_factor", 0.0);
  out.high_freq_factor = s.positive_number("high_freq_factor", 0.0);
  out.original_max_position_embeddings =
      s.positive_int("original_max_position_embeddings", c.max_position_embeddings);
  TORCH_CHECK(out.high_freq_factor > out.low_freq_factor, where,
              ": high_freq_factor must exceed low_freq_factor");
}

std::vector<int64_t> parse_token_ids(const Fields& f, const char* key) {
  std::vector<int64_t> ids;
  if (!f.has(key)) return ids;
  const json& v = f.at(key);
  if (v.is_number_integer()) {
    ids.push_back(v.get<int64_t>());
  } else {
    TORCH_CHECK(v.is_array(), f.where(), ": '", key, "' must be an integer or a list, got ",
                v.dump());
    for (const auto& e : v) {
      TORCH_CHECK(e.is_number_integer(), f.where(), ": '", key, "' holds a non-integer ", e.dump());
      ids.push_back(e.get<int64_t>());
    }
  }
  return ids;
}

}  // namespace

c10::ScalarType dtype_from_name(const std::string& name, const std::string& where) {
  if (name == "bfloat16" || name == "bf16") return c10::ScalarType::BFloat16;
  if (name == "float16" || name == "fp16" || name == "half") return c10::ScalarType::Half;
  if (name == "float32" || name == "fp32" || name == "float") return c10::ScalarType::Float;
  TORCH_CHECK(false, where, ": dtype must be bfloat16, float16 or float32, got '", name, "'");
}

std::string dtype_name(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::ScalarType::BFloat16: return "bfloat16";
    case c10::ScalarType::Half: return "float16";
    case c10::ScalarType::Float: return "float32";
    default: TORCH_CHECK(false, "dtype_name: unsupported weight dtype ", dtype);
  }
}

const char* architecture_name(Architecture a) {
  switch (a) {
    case Architecture::kQwen3: return "qwen3";
    case Architecture::kQwen2: return "qwen2";
    case Architecture::kLlama: return "llama";
    case Architecture::kMistral: return "mistral";
  }
  return "unknown";
}

namespace {

// Sizes far past any real model (and past what int64 shapes and memory
// hold) are refused before anything is allocated, naming the key: a typo'd
// config.json must not become a segfault or a 25 TB allocation.
void check_sizes(const ModelConfig& c, const std::string& where) {
  const std::pair<const char*, std::pair<int64_t, int64_t>> bounds[] = {
      {"vocab_size", {c.vocab_size, int64_t{1} << 24}},
      {"hidden_size", {c.hidden_size, int64_t{1} << 17}},
      {"intermediate_size", {c.intermediate_size, int64_t{1} << 20}},
      {"num_hidden_layers", {c.num_hidden_layers, 4096}},
      {"num_attention_heads", {c.num_attention_heads, 4096}},
      {"num_key_value_heads", {c.num_key_value_heads, 4096}},
      {"head_dim", {c.head_dim, 4096}},
      {"max_position_embeddings", {c.max_position_embeddings, int64_t{1} << 27}},
  };
  for (const auto& [key, value_and_max] : bounds) {
    TORCH_CHECK(value_and_max.first <= value_and_max.second, where, ": '", key, "' ", value_and_max.first,
                " exceeds ", value_and_max.second, ", more than any model opd can hold");
  }
  const double params = approximate_parameters(c);  // 10^13 is past any model
  TORCH_CHECK(params <= 1e13, where, ": the sizes imply ", params, " parameters, more than any model opd can hold");
}

}  // namespace

double approximate_parameters(const ModelConfig& c) {
  const double h = double(c.hidden_size), heads = double(c.num_attention_heads), kv = double(c.num_key_value_heads);
  const double attention = (heads + 2.0 * kv) * double(c.head_dim) * h + heads * double(c.head_dim) * h;
  const double vocab = (c.tie_word_embeddings ? 1.0 : 2.0) * double(c.vocab_size) * h;
  return vocab + double(c.num_hidden_layers) * (attention + 3.0 * h * double(c.intermediate_size));
}

void check_weights_fit_in_memory(const ModelConfig& c, c10::ScalarType dtype, const std::string& where) {
  const double bytes = approximate_parameters(c) * double(c10::elementSize(dtype));
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return;  // unknown: let the allocator decide
  const double memory = double(pages) * double(page);
  TORCH_CHECK(bytes <= memory, where, ": vocab_size ", c.vocab_size, ", hidden_size ", c.hidden_size,
              ", intermediate_size ", c.intermediate_size, " and num_hidden_layers ", c.num_hidden_layers, " imply ",
              bytes / 1e9, " GB of ", dtype_name(dtype), " weights, more than this machine's ", memory / 1e9,
              " GB of memory");
}

ModelConfig parse_model_config(const std::string& json_text, const std::string& where) {
  json j;
  const std::string error = parse_json_text(json_text, j);
  TORCH_CHECK(error.empty(), where, ": not valid JSON (", error, ")");
  TORCH_CHECK(j.is_object(), where, ": expected a JSON object");
  Fields f(j, where);
  ModelConfig c;
  c.architecture = parse_architecture(f);
  c.vocab_size = f.positive_int("vocab_size");
  c.hidden_size = f.positive_int("hidden_size");
  c.intermediate_size = f.positive_int("intermediate_size");
  c.num_hidden_layers = f.positive_int("num_hidden_layers");
  c.num_attention_heads = f.positive_int("num_attention_heads");
  const FamilyDefaults d = family_defaults(c.architecture);
  c.num_key_value_heads = f.positive_int(
      "num_key_value_heads", d.num_key_value_heads > 0 ? d.num_key_value_heads : c.num_attention_heads);
  c.head_dim = f.positive_int("head_dim", d.head_dim > 0 ? d.head_dim : c.hidden_size / c.num_attention_heads);
  // transformers derives a missing head_dim as hidden_size // num_attention_heads, 0 for more heads than
  // hidden units: no model has such heads.
  TORCH_CHECK(c.head_dim > 0, where, ": 'head_dim' is missing and hidden_size (", c.hidden_size,
              ") // num_attention_heads (", c.num_attention_heads, ") is 0; give head_dim");
  c.max_position_embeddings = f.positive_int("max_position_embeddings", d.max_position_embeddings);
  parse_rope(f, c);
  c.rms_norm_eps = f.positive_number("rms_norm_eps", 1e-6);
  c.tie_word_embeddings = f.boolean("tie_word_embeddings", false);
  // A missing key takes the family's default; an explicit null means none.
  auto token_ids = [&](const char* key, int64_t fallback) {
    if (j.contains(key)) return parse_token_ids(f, key);
    return fallback >= 0 ? std::vector<int64_t>{fallback} : std::vector<int64_t>{};
  };
  c.eos_token_ids = token_ids("eos_token_id", d.eos_token_id);
  const auto bos = token_ids("bos_token_id", d.bos_token_id);
  c.bos_token_id = bos.empty() ? -1 : bos.front();
  for (const auto& [key, ids] : {std::pair<const char*, const std::vector<int64_t>&>{"eos_token_id", c.eos_token_ids},
                                 {"bos_token_id", bos}}) {
    for (int64_t id : ids) {
      TORCH_CHECK(id >= 0 && id < c.vocab_size, where, ": '", key, "' ", id, " is outside the vocabulary [0, ",
                  c.vocab_size, ")");
    }
  }
  check_sizes(c, where);
  // Newer transformers write `dtype`, older `torch_dtype`.
  c.dtype = dtype_from_name(f.string("dtype", f.string("torch_dtype", "float32")),
                            where + " torch_dtype");

  const std::string act = f.string("hidden_act", "silu");
  TORCH_CHECK(act == "silu", where, ": 'hidden_act' must be silu, got '", act, "'");
  TORCH_CHECK(c.num_attention_heads % c.num_key_value_heads == 0, where,
              ": num_attention_heads (", c.num_attention_heads,
              ") must be a multiple of num_key_value_heads (", c.num_key_value_heads, ")");
  TORCH_CHECK(c.head_dim % 2 == 0, where, ": head_dim must be even for RoPE, got ", c.head_dim);

  switch (c.architecture) {
    case Architecture::kQwen2:
      c.qkv_bias = true;  // Qwen2 hard-codes q/k/v biases; o_proj has none
      TORCH_CHECK(!f.boolean("use_sliding_window", false), where,
                  ": use_sliding_window=true is not supported for qwen2");
      break;
    case Architecture::kQwen3:
      c.qk_norm = true;
      c.qkv_bias = c.o_proj_bias = f.boolean("attention_bias", false);
      TORCH_CHECK(!f.boolean("use_sliding_window", false), where,
                  ": use_sliding_window=true is not supported for qwen3");
      break;
    case Architecture::kLlama:
      c.qkv_bias = c.o_proj_bias = f.boolean("attention_bias", false);
      c.mlp_bias = f.boolean("mlp_bias", false);
      break;
    case Architecture::kMistral:
      // Missing: MistralConfig's 4096; null: full attention.
      c.sliding_window = j.contains("sliding_window") ? f.positive_int("sliding_window", 0) : d.sliding_window;
      break;
  }
  c.json = j.dump(2);
  return c;
}

ModelConfig read_model_config(const std::string& dir) {
  namespace fs = std::filesystem;
  TORCH_CHECK(fs::is_directory(dir), "model directory '", dir, "' does not exist");
  const fs::path path = fs::path(dir) / "config.json";
  TORCH_CHECK(fs::is_regular_file(path), "model directory '", dir, "' has no config.json");
  return parse_model_config(read_text_file(path.string()), path.string());
}

std::string model_config_json(const ModelConfig& c) {
  // A config read from a file keeps its keys and its style; a new one is
  // written the way transformers >= 5 writes one.
  const bool fresh = c.json.empty();
  json j = fresh ? json::object() : json::parse(c.json);
  j["model_type"] = architecture_name(c.architecture);
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["hidden_act"] = "silu";
  // transformers >= 5 writes `dtype`, older versions `torch_dtype`.
  if (fresh || j.contains("dtype")) j["dtype"] = dtype_name(c.dtype);
  if (j.contains("torch_dtype")) j["torch_dtype"] = dtype_name(c.dtype);

  // RoPE: transformers >= 5 writes one `rope_parameters` dict and neither
  // `rope_theta` nor `rope_scaling`; older files keep those two keys.
  json rope = {{"rope_type", "default"}};
  if (c.rope_scaling.kind == RopeScaling::Kind::kLlama3) {
    rope = {{"rope_type", "llama3"},
            {"factor", c.rope_scaling.factor},
            {"low_freq_factor", c.rope_scaling.low_freq_factor},
            {"high_freq_factor", c.rope_scaling.high_freq_factor},
            {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  }
  if (fresh || j.contains("rope_parameters")) {
    rope["rope_theta"] = c.rope_theta;
    j["rope_parameters"] = rope;
    j.erase("rope_theta");
    j.erase("rope_scaling");
  } else {
    j["rope_theta"] = c.rope_theta;
    if (c.rope_scaling.kind != RopeScaling::Kind::kNone) {
      j["rope_scaling"] = rope;
    } else if (j.contains("rope_scaling")) {
      j["rope_scaling"] = nullptr;
    }
  }

  switch (c.architecture) {
    case Architecture::kQwen2: break;
    case Architecture::kQwen3: j["attention_bias"] = c.qkv_bias; break;
    case Architecture::kLlama:
      j["attention_bias"] = c.qkv_bias;
      j["mlp_bias"] = c.mlp_bias;
      break;
    case Architecture::kMistral:
      j["sliding_window"] = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
      break;
  }
  if (!j.contains("architectures")) {
    static const char* kClass[] = {"Qwen3ForCausalLM", "Qwen2ForCausalLM", "LlamaForCausalLM",
                                   "MistralForCausalLM"};
    j["architectures"] = json::array({kClass[static_cast<int>(c.architecture)]});
  }
  // Ids opd never changes; a family default taken for a missing one is written out.
  if (!j.contains("eos_token_id")) {
    j["eos_token_id"] = c.eos_token_ids.empty()       ? json(nullptr)
                        : c.eos_token_ids.size() == 1 ? json(c.eos_token_ids[0])
                                                      : json(c.eos_token_ids);
  }
  if (!j.contains("bos_token_id")) j["bos_token_id"] = c.bos_token_id >= 0 ? json(c.bos_token_id) : json(nullptr);
  return j.dump(2) + "\n";
}

std::string generation_config_json(const ModelConfig& c) {
  const json config = c.json.empty() ? json::object() : json::parse(c.json);
  json j = {{"_from_model_config", true}};
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (!c.eos_token_ids.empty()) {
    j["eos_token_id"] = c.eos_token_ids.size() == 1 ? json(c.eos_token_ids[0]) : json(c.eos_token_ids);
  }
  if (config.contains("pad_token_id") && config["pad_token_id"].is_number_integer()) {
    j["pad_token_id"] = config["pad_token_id"];
  }
  return j.dump(2) + "\n";
}

}  // namespace opd::model
