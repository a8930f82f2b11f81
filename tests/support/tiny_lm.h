// A tiny in-memory language model for tests that need a few distinct models
// (a student and teachers) without files.
#pragma once

#include "opd/model/tiny_model.h"

#include <cstdint>

namespace opd::testing {

inline model::CausalLM tiny_lm(uint64_t seed, double init_std, double embed_std, int64_t vocab_size = 64) {
  model::TinyModelSpec spec;
  spec.vocab_size = vocab_size;
  spec.seed = seed;
  spec.init_std = init_std;
  spec.embed_std = embed_std;
  return model::make_tiny_model(spec);
}

}  // namespace opd::testing
