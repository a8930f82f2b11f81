// The one place where the LibTorch 2.x releases opd builds against differ
// (2.13 CPU and 2.14 CUDA on the build machines, 2.11 on the GPU machines).
#pragma once

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>

#include <memory>
#include <type_traits>
#include <utility>

namespace opd::compat {

// How autograd holds its graph nodes: std::shared_ptr in older releases,
// c10::intrusive_ptr in newer ones. Read off the API rather than a version
// number, so a release that moves it needs no change here.
using NodePtr = std::decay_t<decltype(torch::autograd::impl::grad_accumulator(std::declval<at::Tensor>()))>;

// A new autograd node of type T, held the way this LibTorch holds nodes.
template <typename T, typename... Args>
auto make_node(Args&&... args) {
  static_assert(std::is_base_of_v<torch::autograd::Node, T>);
  if constexpr (std::is_same_v<NodePtr, std::shared_ptr<torch::autograd::Node>>) {
    return std::make_shared<T>(std::forward<Args>(args)...);
  } else {
    return c10::make_intrusive<T>(std::forward<Args>(args)...);
  }
}

}  // namespace opd::compat
