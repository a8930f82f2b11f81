#include "opd/dist/gradient_sync.h"

#include "opd/core/compat.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

namespace opd::dist {

struct GradientSync::State {
  std::shared_ptr<Communicator> comm;
  std::vector<at::Tensor> params;
  std::vector<std::vector<size_t>> buckets;  // indices into params
  std::vector<size_t> bucket_of;
  std::vector<compat::NodePtr> accumulators;  // held, so the hooks stay attached
  bool armed = false;
  std::vector<int64_t> waiting;  // per bucket: gradients not yet accumulated
  std::vector<bool> ready;
  std::vector<std::shared_ptr<Communicator::Pending>> pending;
  std::vector<at::Tensor> flats;
  size_t next = 0;  // the next bucket to start
  int64_t early = 0;

  void start(size_t b) {
    std::vector<at::Tensor> parts;
    for (size_t i : buckets[b]) {
      const auto& p = params[i];
      parts.push_back(p.grad().defined() ? p.grad().detach().reshape(-1).to(at::kFloat)
                                         : at::zeros({p.numel()}, p.options().dtype(at::kFloat)));
    }
    flats[b] = at::cat(parts);
    pending[b] = comm->start_all_reduce_sum(flats[b]);
  }
  // Starts every bucket that is ready and next in line.
  void start_ready() {
    while (next < buckets.size() && ready[next]) {
      start(next);
      ++next;
      if (armed) ++early;
    }
  }
  void on_accumulated(size_t i) {
    if (!armed) return;
    const size_t b = bucket_of[i];
    if (--waiting[b] == 0) {
      ready[b] = true;
      start_ready();
    }
  }
};

namespace {

// Runs after a parameter's AccumulateGrad: its .grad is final for this backward.
struct AccumulatedHook : public torch::autograd::FunctionPostHook {
  std::weak_ptr<GradientSync::State> state;
  size_t index;
  AccumulatedHook(std::weak_ptr<GradientSync::State> s, size_t i) : state(std::move(s)), index(i) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    if (auto s = state.lock()) s->on_accumulated(index);
    return outputs;
  }
};

}  // namespace

GradientSync::GradientSync(std::shared_ptr<Communicator> comm, std::vector<at::Tensor> params,
                           int64_t bucket_bytes)
    : state_(std::make_shared<State>()) {
  auto& s = *state_;
  s.comm = std::move(comm);
  s.params = std::move(params);
  s.bucket_of.resize(s.params.size());
  int64_t filled = 0;
  for (size_t k = s.params.size(); k-- > 0;) {  // reverse: the order backward finishes them
    const int64_t bytes = s.params[k].numel() * 4;
    if (s.buckets.empty() || (filled > 0 && filled + bytes > bucket_bytes)) {
      s.buckets.emplace_back();
      filled = 0;
    }
    s.buckets.back().push_back(k);
    s.bucket_of[k] = s.buckets.size() - 1;
    filled += bytes;
  }
  for (size_t i = 0; i < s.params.size(); ++i) {
    auto accumulator = torch::autograd::impl::grad_accumulator(s.params[i]);
    TORCH_CHECK(accumulator, "GradientSync: parameter ", i, " is not a leaf that needs a gradient");
    accumulator->add_post_hook(std::make_unique<AccumulatedHook>(state_, i));
    s.accumulators.push_back(std::move(accumulator));
  }
}

GradientSync::~GradientSync() = default;

int64_t GradientSync::buckets() const { return static_cast<int64_t>(state_->buckets.size()); }

void GradientSync::arm() {
  auto& s = *state_;
  s.armed = true;
  s.next = 0;
  s.early = 0;
  s.waiting.assign(s.buckets.size(), 0);
  for (size_t b = 0; b < s.buckets.size(); ++b) s.waiting[b] = static_cast<int64_t>(s.buckets[b].size());
  s.ready.assign(s.buckets.size(), false);
  s.pending.assign(s.buckets.size(), nullptr);
  s.flats.assign(s.buckets.size(), at::Tensor());
}

int64_t GradientSync::finish() {
  auto& s = *state_;
  TORCH_CHECK(s.armed, "GradientSync::finish without arm()");
  s.armed = false;
  const int64_t early = s.early;
  s.ready.assign(s.buckets.size(), true);  // what backward did not reach (unused parameters)
  s.start_ready();
  for (size_t b = 0; b < s.buckets.size(); ++b) {
    s.comm->wait(*s.pending[b], "gradient all-reduce");
    int64_t offset = 0;
    for (size_t i : s.buckets[b]) {
      auto& p = s.params[i];
      const int64_t n = p.numel();
      auto sum = s.flats[b].slice(0, offset, offset + n).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().detach().copy_(sum);
      } else {
        p.mutable_grad() = sum.to(p.scalar_type()).clone();
      }
      offset += n;
    }
  }
  s.pending.clear();
  s.flats.clear();
  return early;
}

}  // namespace opd::dist
