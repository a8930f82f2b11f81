#include "opd/model/activation_checkpoint.h"

#include "opd/core/compat.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <ATen/core/grad_mode.h>

#include <mutex>

namespace opd::model {
namespace {

at::Tensor cpu_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_cpu_rng_state(const at::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

// The backward of a checkpointed block: recompute it from the saved input
// with grad on, then differentiate that recompute.
struct CheckpointBackward : public torch::autograd::Node {
  std::function<at::Tensor(const at::Tensor&)> block;
  at::Tensor input, rng_state;
  std::vector<at::Tensor> params;

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    const auto rng_now = cpu_rng_state();
    set_cpu_rng_state(rng_state);
    torch::autograd::variable_list inputs{input.detach().requires_grad_(input.requires_grad())};
    at::Tensor output;
    {
      at::AutoGradMode enable(true);
      output = block(inputs[0]);
    }
    set_cpu_rng_state(rng_now);
    // Differentiate with respect to what needs a gradient; undefined for the rest.
    torch::autograd::variable_list wrt;
    std::vector<size_t> slot;
    if (input.requires_grad()) {
      wrt.push_back(inputs[0]);
      slot.push_back(0);
    }
    for (size_t i = 0; i < params.size(); ++i) {
      if (params[i].requires_grad()) {
        wrt.push_back(params[i]);
        slot.push_back(i + 1);
      }
    }
    torch::autograd::variable_list out(1 + params.size());
    if (wrt.empty()) return out;
    const auto g = torch::autograd::grad({output}, wrt, {grads[0]}, /*retain_graph=*/false,
                                         /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t k = 0; k < g.size(); ++k) out[slot[k]] = g[k];
    return out;
  }

  void release_variables() override {
    input.reset();
    params.clear();
    block = nullptr;
  }
};

}  // namespace

at::Tensor checkpointed(const std::function<at::Tensor(const at::Tensor&)>& block, const at::Tensor& x,
                        const std::vector<at::Tensor>& params) {
  const bool needs_grad = at::GradMode::is_enabled() &&
                          (x.requires_grad() || std::any_of(params.begin(), params.end(),
                                                            [](const at::Tensor& p) { return p.requires_grad(); }));
  if (!needs_grad) return block(x);
  auto node = compat::make_node<CheckpointBackward>();
  node->block = block;
  node->input = x.detach();
  node->input.requires_grad_(x.requires_grad());
  node->rng_state = cpu_rng_state();
  node->params = params;
  at::Tensor y;
  {
    at::NoGradGuard no_grad;
    y = block(x.detach());
  }
  torch::autograd::variable_list edges_of{x};
  for (const auto& p : params) edges_of.push_back(p);
  node->set_next_edges(torch::autograd::collect_next_edges(edges_of));
  torch::autograd::create_gradient_edge(y, node);
  return y;
}

}  // namespace opd::model
