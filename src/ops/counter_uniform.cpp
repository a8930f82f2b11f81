#include "opd/ops/counter_uniform.h"

#include "cuda_paths.h"
#include "philox.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

namespace opd::ops {

at::Tensor counter_uniform(const at::Tensor& key, uint64_t seed, int64_t step) {
  TORCH_CHECK(key.scalar_type() == at::kLong, "counter_uniform: expected an int64 key, got ", key.sizes(),
              " ", key.scalar_type());
  auto index = key.contiguous();
  auto u = at::empty(index.sizes(), index.options().dtype(at::kDouble));
  if (index.is_cuda()) {
    cuda::counter_uniform(index, seed, step, u);
    return u;
  }
  const int64_t* in = index.data_ptr<int64_t>();
  double* out = u.data_ptr<double>();
  at::parallel_for(0, index.numel(), 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = kernels::token_uniform(seed, step, in[i]);
  });
  return u;
}

}  // namespace opd::ops
