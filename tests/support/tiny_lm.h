// A tiny in-memory language model for tests that need a few distinct models
// (a student and teachers) without files.
#pragma once

#include "opd/model/tiny_model.h"

#include <ATen/core/grad_mode.h>

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

// A model that draws ids at or past `first` almost surely, as a model whose
// vocabulary is padded past its tokenizer may: the lm_head rows below
// `first` become 0 and those from it large. The model must be untied.
inline void favour_ids_from(model::CausalLM& m, int64_t first) {
  TORCH_CHECK(m->lm_head, "favour_ids_from: the model ties its lm_head to the embedding");
  at::NoGradGuard no_grad;
  auto& w = m->lm_head->weight;
  w.slice(0, 0, first).zero_();
  w.slice(0, first).mul_(50.0);
}

}  // namespace opd::testing
