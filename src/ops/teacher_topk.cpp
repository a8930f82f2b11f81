#include "opd/ops/teacher_topk.h"

#include "cuda_paths.h"
#include "logits_rows.h"
#include "softmax_rows_cpu.h"

#include <ATen/core/grad_mode.h>
#include <ATen/Parallel.h>

namespace opd::ops {

TeacherTopk teacher_topk(const at::Tensor& logits, int64_t k) {
  TORCH_CHECK(logits.dim() >= 1 && at::isFloatingType(logits.scalar_type()) && k >= 1 &&
                  k <= logits.size(-1),
              "teacher_topk: expected float logits [..., V] with 1 <= k <= V, got logits ",
              logits.sizes(), " ", logits.scalar_type(), ", k ", k);
  at::NoGradGuard no_grad;
  auto x = logits_rows(logits.detach(), "teacher_topk");
  const int64_t n = x.rows(), V = x.vocab();
  const auto lead = leading_sizes(logits);
  auto with_k = lead;
  with_k.push_back(k);
  TeacherTopk out;
  out.ids = at::empty(with_k, logits.options().dtype(at::kLong));
  out.logp = at::empty(with_k, logits.options().dtype(at::kFloat));
  out.entropy = at::empty(lead, logits.options().dtype(at::kFloat));
  if (n == 0) return out;
  if (logits.is_cuda()) {
    cuda::teacher_topk(x, k, out.ids, out.logp, out.entropy);
    return out;
  }
  int64_t* ids = out.ids.data_ptr<int64_t>();
  float* logp = out.logp.data_ptr<float>();
  float* entropy = out.entropy.data_ptr<float>();
  at::parallel_for(0, n, row_grain(V), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const void* row = x.view.row(r);
      const auto sm = cpu::softmax_row(row, x.view.type, V, entropy + r);
      cpu::topk_row(row, x.view.type, V, k, ids + r * k);
      for (int64_t j = 0; j < k; ++j) {
        logp[r * k + j] = (cpu::load(row, x.view.type, ids[r * k + j]) - sm.max) - sm.log_sum;
      }
    }
  });
  return out;
}

}  // namespace opd::ops
