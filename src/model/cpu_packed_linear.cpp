#include "opd/model/cpu_packed_linear.h"

#include "opd/model/causal_lm.h"

#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/grad_mode.h>
#include <ATen/core/stack.h>

#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

namespace opd::model {
namespace {

// oneDNN's packing and packed linear, as LibTorch registers them for
// TorchInductor's CPU backend; absent from a LibTorch built without oneDNN.
struct MkldnnLinearOps {
  std::optional<c10::OperatorHandle> reorder, linear;
};

const MkldnnLinearOps& mkldnn_linear_ops() {
  static const MkldnnLinearOps ops = [] {
    MkldnnLinearOps o;
    if (!at::hasMKLDNN()) return o;
    auto& dispatcher = c10::Dispatcher::singleton();
    o.reorder = dispatcher.findSchema({"mkldnn::_reorder_linear_weight", ""});
    o.linear = dispatcher.findSchema({"mkldnn::_linear_pointwise", ""});
    return o;
  }();
  return ops;
}

at::Tensor call_boxed(const c10::OperatorHandle& op, torch::jit::Stack stack) {
  op.callBoxed(&stack);
  return stack.at(0).toTensor();
}

bool packable(const at::Tensor& weight) {
  return weight.defined() && weight.device().is_cpu() && weight.dim() == 2 &&
         (weight.scalar_type() == at::kFloat || weight.scalar_type() == at::kBFloat16);
}

}  // namespace

bool cpu_linear_packing_enabled() {
  static const bool setting = [] {
    const char* text = std::getenv("OPD_CPU_PACKED_LINEAR");
    if (text != nullptr && std::string(text) != "0" && std::string(text) != "1") {
      throw std::invalid_argument(std::string("OPD_CPU_PACKED_LINEAR=") + text +
                                  ": expected 0 (packing off) or 1 (on)");
    }
    return text == nullptr || std::string(text) == "1";
  }();
  const auto& ops = mkldnn_linear_ops();
  return setting && ops.reorder && ops.linear;
}

void PackedLinear::hold(const at::Tensor& weight) {
  if (holders_ == 0) {
    at::NoGradGuard no_grad;
    // No row-count hint: one packed layout serves decode's rows and prefill's.
    packed_ = call_boxed(*mkldnn_linear_ops().reorder, {weight.contiguous(), c10::IValue()});
  }
  ++holders_;
}

void PackedLinear::release() {
  if (holders_ > 0 && --holders_ == 0) packed_.reset();
}

at::Tensor PackedLinear::forward(const at::Tensor& x, const at::Tensor& bias) const {
  if (!packed_.defined() || at::GradMode::is_enabled() || !x.device().is_cpu() ||
      x.scalar_type() != packed_.scalar_type() || x.dim() < 2) {
    return {};
  }
  return call_boxed(*mkldnn_linear_ops().linear,
                    {x, packed_, bias.defined() ? c10::IValue(bias) : c10::IValue(), c10::IValue("none"),
                     c10::IValue(c10::List<std::optional<at::Scalar>>()), c10::IValue()});
}

CpuPackedWeights::CpuPackedWeights(CausalLMImpl& model) {
  if (!model.device().is_cpu() || !cpu_linear_packing_enabled()) return;
  auto hold = [&](PackedLinear& linear, const at::Tensor& weight) {
    if (!packable(weight)) return;
    linear.hold(weight);
    held_.push_back(&linear);
  };
  try {
    for (const auto& module : model.modules(/*include_self=*/false)) {
      if (auto* projection = dynamic_cast<ProjectionImpl*>(module.get())) hold(projection->packed, projection->weight);
    }
    if (!model.lm_head) hold(model.packed_tied_head(), model.model->embed_tokens->weight);
  } catch (...) {
    release_all();
    throw;
  }
}

CpuPackedWeights::~CpuPackedWeights() { release_all(); }

void CpuPackedWeights::release_all() {
  for (auto* linear : held_) linear->release();
  held_.clear();
}

}  // namespace opd::model
