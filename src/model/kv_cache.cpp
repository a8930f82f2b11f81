#include "opd/model/kv_cache.h"

namespace opd::model {

KvCache::KvCache(const ModelConfig& config, int64_t batch, int64_t capacity,
                 at::ScalarType dtype, at::Device device)
    : capacity_(capacity) {
  auto opts = at::TensorOptions().dtype(dtype).device(device);
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    keys_.push_back(at::zeros({batch, config.num_key_value_heads, capacity, config.head_dim}, opts));
    values_.push_back(at::zeros_like(keys_.back()));
  }
  positions_ = at::zeros({batch, capacity}, opts.dtype(at::kLong));
  valid_ = at::zeros({batch, capacity}, opts.dtype(at::kBool));
}

void KvCache::begin(const at::Tensor& positions, const at::Tensor& valid) {
  TORCH_CHECK(pending_ == 0, "KvCache::begin: previous forward was not committed");
  TORCH_CHECK(positions.dim() == 2 && positions.size(0) == positions_.size(0),
              "KvCache::begin: expected positions [", positions_.size(0), ", t], got ",
              positions.sizes());
  TORCH_CHECK(valid.sizes() == positions.sizes(), "KvCache::begin: valid ", valid.sizes(),
              " vs positions ", positions.sizes());
  const int64_t t = positions.size(1);
  TORCH_CHECK(length_ + t <= capacity_, "KvCache: ", length_, " + ", t,
              " tokens exceed the capacity of ", capacity_);
  positions_.slice(1, length_, length_ + t).copy_(positions);
  valid_.slice(1, length_, length_ + t).copy_(valid);
  pending_ = t;
}

std::pair<at::Tensor, at::Tensor> KvCache::append(int64_t layer, const at::Tensor& k,
                                                  const at::Tensor& v) {
  TORCH_INTERNAL_ASSERT(k.size(2) == pending_, "KvCache::append outside begin/commit");
  const int64_t end = length_ + pending_;
  keys_[layer].slice(2, length_, end).copy_(k);
  values_[layer].slice(2, length_, end).copy_(v);
  return {keys_[layer].slice(2, 0, end), values_[layer].slice(2, 0, end)};
}

void KvCache::commit() {
  length_ += pending_;
  pending_ = 0;
}

void KvCache::keep_rows(const at::Tensor& rows) {
  TORCH_CHECK(pending_ == 0, "KvCache::keep_rows: a forward is open");
  TORCH_CHECK(rows.dim() == 1 && rows.scalar_type() == at::kLong, "KvCache::keep_rows: expected int64 rows [B'], got ",
              rows.sizes(), " ", rows.scalar_type());
  auto index = rows.to(positions_.device());
  for (auto& k : keys_) k = k.index_select(0, index);
  for (auto& v : values_) v = v.index_select(0, index);
  positions_ = positions_.index_select(0, index);
  valid_ = valid_.index_select(0, index);
}

at::Tensor KvCache::key_positions() const { return positions_.slice(1, 0, length_ + pending_); }
at::Tensor KvCache::key_valid() const { return valid_.slice(1, 0, length_ + pending_); }

}  // namespace opd::model
