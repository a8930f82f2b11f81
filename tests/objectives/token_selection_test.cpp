// Entropy selection's step-wide cut (step_top_fraction_cuts) against a sort of
// all the scores, in one process and split over simulated ranks.
#include "opd/objectives/token_selection.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace opd::objectives {
namespace {

using Sum = std::function<std::vector<double>(std::vector<double>)>;

const Sum kOneProcess = [](std::vector<double> v) { return v; };

// The reference: sort descending, take the ceil(rho * n)-th.
float sorted_cut(std::vector<float> scores, double rho) {
  std::sort(scores.begin(), scores.end(), std::greater<float>());
  const auto keep = std::max<size_t>(1, static_cast<size_t>(std::ceil(rho * double(scores.size()) - 1e-9)));
  return scores[keep - 1];
}

// Entropy-like scores with ties (rounded to 1/64), zeros and one huge value.
std::vector<float> scores(int n, uint64_t seed) {
  at::manual_seed(static_cast<int64_t>(seed));
  auto x = (at::rand({n}) * 5 * 64).round() / 64;
  std::vector<float> v(x.data_ptr<float>(), x.data_ptr<float>() + n);
  v[0] = 0.0f;
  v[1] = 1e30f;
  return v;
}

// Threads standing in for ranks meet here; the last to arrive runs `on_last`.
class Rendezvous {
 public:
  explicit Rendezvous(int parties) : parties_(parties) {}
  void arrive_and_wait(const std::function<void()>& on_last = [] {}) {
    std::unique_lock<std::mutex> lock(mutex_);
    const int64_t generation = generation_;
    if (++arrived_ == parties_) {
      on_last();
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [&] { return generation_ != generation; });
  }

 private:
  const int parties_;
  int arrived_ = 0;
  int64_t generation_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
};

at::Tensor tensor(const std::vector<float>& v) { return at::tensor(v, at::kFloat); }

const std::vector<double> kRhos = {1e-6, 0.2, 0.5, 0.8, 1.0};

TEST(StepTopFractionCuts, AreTheSortedScoresCut) {
  for (int n : {1, 2, 7, 1000}) {
    const auto v = scores(n, static_cast<uint64_t>(n));
    const auto cuts = step_top_fraction_cuts(tensor(v), kRhos, kOneProcess);
    for (size_t i = 0; i < kRhos.size(); ++i) {
      EXPECT_EQ(cuts[i], sorted_cut(v, kRhos[i])) << "n " << n << " rho " << kRhos[i];
      // The same tokens top_fraction keeps within one batch.
      const auto all = at::ones({n});
      EXPECT_TRUE(at::equal(top_fraction(tensor(v), all, kRhos[i]), (tensor(v) >= cuts[i]).to(at::kFloat)));
    }
  }
  EXPECT_EQ(step_top_fraction_cuts(at::zeros({0}), {0.5}, kOneProcess).at(0), INFINITY) << "nothing to select";
}

// Three ranks, each with its share (one share empty), meet in a lockstep sum:
// every rank finds the cut of all the scores.
TEST(StepTopFractionCuts, SplitOverRanksAreTheWholeSetsCut) {
  const auto v = scores(500, 7);
  const std::vector<std::vector<float>> shares = {{v.begin(), v.begin() + 123}, {}, {v.begin() + 123, v.end()}};
  const int ranks = static_cast<int>(shares.size());
  std::vector<std::vector<double>> posted(ranks);
  std::vector<double> total;
  Rendezvous posted_all(ranks), read_all(ranks);
  const auto add_up = [&] {
    total.assign(posted[0].size(), 0.0);
    for (const auto& p : posted) {
      for (size_t i = 0; i < p.size(); ++i) total[i] += p[i];
    }
  };
  std::vector<std::vector<float>> found(ranks);
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      const Sum sum = [&](std::vector<double> mine) {
        posted[r] = std::move(mine);
        posted_all.arrive_and_wait(add_up);
        auto out = total;
        read_all.arrive_and_wait();
        return out;
      };
      found[r] = step_top_fraction_cuts(tensor(shares[r]), kRhos, sum);
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < ranks; ++r) {
    for (size_t i = 0; i < kRhos.size(); ++i) EXPECT_EQ(found[r][i], sorted_cut(v, kRhos[i])) << "rank " << r;
  }
}

TEST(StepTopFractionCuts, RefuseNegativeScoresAndBadRho) {
  EXPECT_THROW(step_top_fraction_cuts(tensor({1.0f, -0.5f}), {0.5}, kOneProcess), c10::Error);
  EXPECT_THROW(step_top_fraction_cuts(tensor({1.0f}), {0.0}, kOneProcess), c10::Error);
  EXPECT_THROW(step_top_fraction_cuts(tensor({1.0f}), {1.5}, kOneProcess), c10::Error);
}

}  // namespace
}  // namespace opd::objectives
