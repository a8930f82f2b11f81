// config.json (model/model_config.h). Every refusal must be a c10::Error; an
// accepted config must be one a model can be built from (sizes the decoder's
// shapes need) and must read back the same after model_config_json writes it.
#include "fuzz_support.h"

#include "opd/model/model_config.h"

#include <c10/util/Exception.h>

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  opd::fuzz::expect_refusal_or_success<c10::Error>([&] {
    const auto c = opd::model::parse_model_config(text, "config.json");
    opd::fuzz::require(c.head_dim > 0 && c.hidden_size > 0 && c.num_key_value_heads > 0 && c.vocab_size > 0,
                       "an accepted config has positive sizes");
    opd::fuzz::require(c.num_attention_heads % c.num_key_value_heads == 0, "heads are a multiple of kv heads");
    const std::string written = opd::model::model_config_json(c);
    const auto again = opd::model::parse_model_config(written, "config.json (written)");
    opd::fuzz::require(opd::model::model_config_json(again) == written, "config.json round trip");
  });
  return 0;
}
