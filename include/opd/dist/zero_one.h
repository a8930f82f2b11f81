// ZeRO-1: the optimizer state is sharded over the ranks. Each trainable
// tensor has one owner rank whose optimizer holds its state and updates it;
// after the update every owner hands its tensors to the other ranks.
#pragma once

#include "opd/dist/communicator.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace opd::dist {

class ZeroOneShards {
 public:
  // Balances `params` (the same order on every rank) over world_size ranks:
  // largest tensors first, each to the least loaded rank, so every rank
  // computes the same owners.
  ZeroOneShards(std::vector<at::Tensor> params, int64_t world_size);

  int64_t owner(size_t i) const { return owner_.at(i); }
  // The tensors `rank` updates, in params order.
  std::vector<at::Tensor> owned_by(int64_t rank) const;
  // Every owner's updated tensors into every rank's copy.
  void all_gather(Communicator& comm) const;

 private:
  std::vector<at::Tensor> params_;
  std::vector<int64_t> owner_;
  int64_t world_size_;
};

// Throws naming `where` (a checkpoint) when its optimizer state was sharded
// over saved_shards ranks (0: not sharded) and this run shards it over
// run_shards: the moments would belong to other tensors.
void check_optimizer_shards(const std::string& where, int64_t saved_shards, int64_t run_shards);

}  // namespace opd::dist
