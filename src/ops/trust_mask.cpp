#include "opd/ops/trust_mask.h"

#include "cuda_paths.h"
#include "philox.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

namespace opd::ops {

at::Tensor trust_mask(const at::Tensor& log_ratio, const at::Tensor& token_index, uint64_t seed,
                      int64_t step) {
  TORCH_CHECK(log_ratio.sizes() == token_index.sizes() &&
                  at::isFloatingType(log_ratio.scalar_type()) &&
                  token_index.scalar_type() == at::kLong &&
                  log_ratio.device() == token_index.device(),
              "trust_mask: expected float log_ratio and int64 token_index of one shape and "
              "device, got log_ratio ", log_ratio.sizes(), " ", log_ratio.scalar_type(), " on ",
              log_ratio.device(), ", token_index ", token_index.sizes(), " ",
              token_index.scalar_type(), " on ", token_index.device());
  auto index = token_index.contiguous();
  auto mask = at::empty(index.sizes(), index.options().dtype(at::kBool));
  if (index.is_cuda()) {
    cuda::trust_mask(log_ratio.detach().to(at::kFloat).contiguous(), index, seed, step, mask);
    return mask;
  }
  auto ratio = log_ratio.detach().to(at::kDouble).contiguous();
  const double* lr = ratio.data_ptr<double>();
  const int64_t* in = index.data_ptr<int64_t>();
  bool* out = mask.data_ptr<bool>();
  at::parallel_for(0, index.numel(), 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      // min(exp(x), 1) = exp(min(x, 0)); u < 1, so x >= 0 always trusts and NaN never does.
      out[i] = kernels::token_uniform(seed, step, in[i]) < std::exp(std::min(lr[i], 0.0));
    }
  });
  return mask;
}

}  // namespace opd::ops
