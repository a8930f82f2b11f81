#include "opd/train/adamw.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>

namespace opd::train {

AdamW::AdamW(std::vector<at::Tensor> params, AdamWOptions options)
    : params_(std::move(params)), options_(options) {
  for (const auto& p : params_) {
    exp_avg_.push_back(at::zeros_like(p, p.options().dtype(at::kFloat)));
    exp_avg_sq_.push_back(at::zeros_like(p, p.options().dtype(at::kFloat)));
    // bf16/fp16 weights train through an fp32 copy: updates far below the
    // weight's precision still add up.
    master_.push_back(p.scalar_type() == at::kFloat ? at::Tensor() : p.detach().to(at::kFloat));
  }
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  ++step_;
  const double bias1 = 1.0 - std::pow(options_.beta1, double(step_));
  const double bias2 = 1.0 - std::pow(options_.beta2, double(step_));
  for (size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    if (!p.grad().defined()) continue;
    auto g = p.grad().to(at::kFloat);
    exp_avg_[i].mul_(options_.beta1).add_(g, 1.0 - options_.beta1);
    exp_avg_sq_[i].mul_(options_.beta2).addcmul_(g, g, 1.0 - options_.beta2);
    auto denom = (exp_avg_sq_[i].sqrt() / std::sqrt(bias2)).add_(options_.eps);
    auto update = (exp_avg_[i] / denom).mul_(lr / bias1);
    auto& weight = master_[i].defined() ? master_[i] : p;  // fp32 either way
    if (options_.weight_decay > 0 && p.dim() >= 2) update.add_(weight, lr * options_.weight_decay);
    weight.sub_(update);
    if (master_[i].defined()) p.copy_(master_[i]);
  }
}

std::map<std::string, at::Tensor> AdamW::state() const {
  std::map<std::string, at::Tensor> out{{"step", at::tensor(step_, at::kLong)}};
  for (size_t i = 0; i < params_.size(); ++i) {
    out["exp_avg." + std::to_string(i)] = exp_avg_[i];
    out["exp_avg_sq." + std::to_string(i)] = exp_avg_sq_[i];
    if (master_[i].defined()) out["master." + std::to_string(i)] = master_[i];
  }
  return out;
}

void AdamW::load_state(const std::map<std::string, at::Tensor>& state) {
  auto get = [&](const std::string& name, const at::Tensor& like) -> const at::Tensor& {
    const auto it = state.find(name);
    TORCH_CHECK(it != state.end(), "optimizer state: no tensor '", name, "'");
    TORCH_CHECK(it->second.sizes() == like.sizes(), "optimizer state: '", name, "' has shape ", it->second.sizes(),
                ", the parameter needs ", like.sizes());
    return it->second;
  };
  size_t masters = 0;
  for (const auto& m : master_) masters += m.defined() ? 1 : 0;
  const size_t expected = 1 + 2 * params_.size() + masters;
  TORCH_CHECK(state.size() == expected, "optimizer state: ", state.size(), " tensors for ", params_.size(),
              " parameters (expected ", expected, ")");
  const auto& step = state.find("step");
  TORCH_CHECK(step != state.end() && step->second.numel() == 1, "optimizer state: no scalar 'step'");
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    exp_avg_[i].copy_(get("exp_avg." + std::to_string(i), exp_avg_[i]));
    exp_avg_sq_[i].copy_(get("exp_avg_sq." + std::to_string(i), exp_avg_sq_[i]));
    if (master_[i].defined()) {
      master_[i].copy_(get("master." + std::to_string(i), master_[i]));
      params_[i].copy_(master_[i]);
    }
  }
  step_ = step->second.item<int64_t>();
}

void AdamW::zero_grad() {
  for (auto& p : params_) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
}

double global_grad_norm(const std::vector<at::Tensor>& params) {
  // Summed where the gradients are, with one read back: not one host sync per parameter.
  std::vector<at::Tensor> squares;
  for (const auto& p : params) {
    if (p.grad().defined()) squares.push_back(p.grad().to(at::kFloat).pow(2).sum().to(at::kDouble));
  }
  if (squares.empty()) return 0.0;
  return std::sqrt(at::stack(squares).sum().item<double>());
}

double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  const double norm = global_grad_norm(params);
  if (max_norm > 0 && std::isfinite(norm) && norm > max_norm) {
    at::NoGradGuard no_grad;
    const double scale = max_norm / (norm + 1e-6);
    for (const auto& p : params) {
      if (p.grad().defined()) p.grad().mul_(scale);
    }
  }
  return norm;
}

}  // namespace opd::train
