#include "opd/dist/zero_one.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <numeric>

namespace opd::dist {

ZeroOneShards::ZeroOneShards(std::vector<at::Tensor> params, int64_t world_size)
    : params_(std::move(params)), owner_(params_.size(), 0), world_size_(world_size) {
  TORCH_CHECK(world_size_ >= 1, "ZeroOneShards: world size ", world_size_, " < 1");
  std::vector<size_t> order(params_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return params_[a].numel() > params_[b].numel(); });
  std::vector<int64_t> load(static_cast<size_t>(world_size_), 0);
  for (size_t i : order) {
    const auto r = std::min_element(load.begin(), load.end()) - load.begin();
    owner_[i] = r;
    load[static_cast<size_t>(r)] += params_[i].numel();
  }
}

std::vector<at::Tensor> ZeroOneShards::owned_by(int64_t rank) const {
  std::vector<at::Tensor> owned;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (owner_[i] == rank) owned.push_back(params_[i]);
  }
  return owned;
}

void ZeroOneShards::all_gather(Communicator& comm) const {
  for (int64_t r = 0; r < world_size_; ++r) comm.broadcast(owned_by(r), r, "parameter all-gather");
}

void check_optimizer_shards(const std::string& where, int64_t saved_shards, int64_t run_shards) {
  const auto sharding = [](int64_t n) {
    return n > 0 ? "sharded over " + std::to_string(n) + " ranks" : std::string("not sharded");
  };
  TORCH_CHECK(saved_shards == run_shards, where, ": its optimizer state is ", sharding(saved_shards),
              ", this run ", run_shards > 0 ? "shards it over " + std::to_string(run_shards) + " ranks"
                                            : std::string("does not shard it"),
              " (optim.zero_stage and the world size must match)");
}

}  // namespace opd::dist
