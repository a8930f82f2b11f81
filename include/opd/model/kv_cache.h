// Preallocated key/value cache for incremental decoding over a ragged batch.
//
// Slots are columns shared by the whole batch: a forward of t tokens fills
// slots [length, length + t) in every row. Each slot remembers its token's
// position and whether it is a real token, so right-padded prompts of
// different lengths decode together without left padding: pad slots are
// simply never attended to.
#pragma once

#include "opd/model/model_config.h"

#include <ATen/ATen.h>

#include <utility>
#include <vector>

namespace opd::model {

class KvCache {
 public:
  // Room for `capacity` slots per row; tensors of `dtype` on `device`.
  KvCache(const ModelConfig& config, int64_t batch, int64_t capacity, at::ScalarType dtype,
          at::Device device);

  // Opens the next forward: positions and validity [B, t] of its t tokens.
  // Throws when the cache would overflow.
  void begin(const at::Tensor& positions, const at::Tensor& valid);
  // Stores layer `layer`'s new k, v [B, Hkv, t, D]; returns k, v over all
  // slots so far, [B, Hkv, length + t, D] (views).
  std::pair<at::Tensor, at::Tensor> append(int64_t layer, const at::Tensor& k,
                                           const at::Tensor& v);
  // Closes the forward opened by begin().
  void commit();
  // Keeps only the rows `rows` [B'] int64 (in that order), e.g. the sequences
  // still generating; copies every layer once. Only between forwards.
  void keep_rows(const at::Tensor& rows);

  at::Tensor key_positions() const;  // [B, length + t] int64 (includes the open forward)
  at::Tensor key_valid() const;      // [B, length + t] bool
  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  int64_t batch() const { return positions_.size(0); }

 private:
  std::vector<at::Tensor> keys_, values_;  // per layer [B, Hkv, capacity, D]
  at::Tensor positions_, valid_;           // [B, capacity]
  int64_t capacity_ = 0, length_ = 0, pending_ = 0;
};

}  // namespace opd::model
