// ZeRO-1's owners, and its all-gather and the communicator's barrier over two
// real c10d ranks (Gloo, one thread each in this process).
#include "opd/dist/zero_one.h"

#include "opd/dist/communicator.h"
#include "support/test_support.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace opd::dist::zero_one_test {
namespace {

std::vector<at::Tensor> tensors_of_sizes(const std::vector<int64_t>& sizes) {
  std::vector<at::Tensor> out;
  for (int64_t n : sizes) out.push_back(at::zeros({n}));
  return out;
}

TEST(ZeroOneShards, LargestFirstToTheLeastLoadedRank) {
  // By size 10, 7, 5, 3, 1: 10 -> rank 0; 7 -> 1; 5 -> 1 (7 < 10); 3 -> 0 (10 < 12); 1 -> 1 (12 < 13).
  const auto params = tensors_of_sizes({1, 10, 3, 7, 5});
  ZeroOneShards shards(params, 2);
  const std::vector<int64_t> owners = {1, 0, 0, 1, 1};
  for (size_t i = 0; i < params.size(); ++i) EXPECT_EQ(shards.owner(i), owners[i]) << "tensor " << i;
  const auto zero = shards.owned_by(0), one = shards.owned_by(1);
  ASSERT_EQ(zero.size(), 2u);
  ASSERT_EQ(one.size(), 3u);
  EXPECT_TRUE(zero[0].is_same(params[1]) && zero[1].is_same(params[2]));  // in params order
  EXPECT_TRUE(one[0].is_same(params[0]) && one[1].is_same(params[3]) && one[2].is_same(params[4]));
  EXPECT_EQ(ZeroOneShards(params, 1).owned_by(0).size(), params.size());
  testing::expect_error([] { check_optimizer_shards("ckpt", 2, 0); },
                        {"ckpt", "sharded over 2 ranks", "does not shard it", "optim.zero_stage"});
  testing::expect_error([] { check_optimizer_shards("ckpt", 0, 4); }, {"not sharded", "shards it over 4 ranks"});
  check_optimizer_shards("ckpt", 4, 4);
}

// Runs body(rank, comm) on two ranks at once; returns each rank's error ("" when none).
std::vector<std::string> on_two_ranks(const std::function<void(int64_t, Communicator&)>& body) {
  const int port = opd::testing::free_port();
  std::vector<std::string> errors(2);
  std::vector<std::thread> ranks;
  for (int64_t r = 0; r < 2; ++r) {
    ranks.emplace_back([&, r] {
      errors[r] = testing::error_message([&] {
        LaunchEnv env;
        env.rank = env.local_rank = r;
        env.world_size = env.local_world_size = 2;
        env.master_port = port;
        Communicator comm(env, at::kCPU, std::chrono::seconds(60));
        body(r, comm);
      });
      if (errors[r] == "<no exception>") errors[r].clear();
    });
  }
  for (auto& t : ranks) t.join();
  return errors;
}

TEST(ZeroOneShards, EveryOwnersUpdateReachesEveryRank) {
  std::vector<std::vector<at::Tensor>> copies(2);
  const auto errors = on_two_ranks([&](int64_t rank, Communicator& comm) {
    auto params = tensors_of_sizes({1, 10, 3, 7, 5});
    ZeroOneShards shards(params, 2);
    // Each rank "updates" what it owns and leaves garbage in the rest.
    for (size_t i = 0; i < params.size(); ++i) {
      params[i].fill_(shards.owner(i) == rank ? double(i + 1) : -100.0 * double(rank + 1));
    }
    shards.all_gather(comm);
    copies[rank] = params;
  });
  ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
  for (int64_t rank = 0; rank < 2; ++rank) {
    for (size_t i = 0; i < copies[rank].size(); ++i) {
      EXPECT_TRUE(at::equal(copies[rank][i], at::full_like(copies[rank][i], double(i + 1))))
          << "rank " << rank << " tensor " << i;
    }
  }
}

TEST(Communicator, BarrierWaitsForEveryRank) {
  std::atomic<bool> late_rank_arrived{false};
  bool seen_by_rank0 = false;
  const auto errors = on_two_ranks([&](int64_t rank, Communicator& comm) {
    if (rank == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      late_rank_arrived = true;
    }
    comm.barrier("test barrier");
    if (rank == 0) seen_by_rank0 = late_rank_arrived;
  });
  ASSERT_EQ(errors, (std::vector<std::string>{"", ""}));
  EXPECT_TRUE(seen_by_rank0) << "rank 0 left the barrier before rank 1 reached it";
}

}  // namespace
}  // namespace opd::dist::zero_one_test
