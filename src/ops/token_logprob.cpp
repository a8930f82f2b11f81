#include "opd/ops/token_logprob.h"

#include "opd/ops/row_logprobs.h"

namespace opd::ops {

at::Tensor token_logprob(const at::Tensor& logits, const at::Tensor& targets) {
  TORCH_CHECK(logits.dim() >= 1 && logits.dim() == targets.dim() + 1 &&
                  logits.sizes().slice(0, targets.dim()) == targets.sizes(),
              "token_logprob: expected logits [..., V] and targets [...], got ", logits.sizes(),
              " and ", targets.sizes());
  return row_logprobs(logits, targets.unsqueeze(-1)).logp.squeeze(-1);
}

at::Tensor gather_logprobs(const at::Tensor& logits, const at::Tensor& ids) {
  return row_logprobs(logits, ids).logp;
}

at::Tensor softmax_entropy(const at::Tensor& logits) {
  TORCH_CHECK(logits.dim() >= 1, "softmax_entropy: expected logits [..., V], got ", logits.sizes());
  auto sizes = logits.sizes().vec();
  sizes.back() = 0;  // no ids: the entropy alone
  auto no_ids = at::empty(sizes, logits.options().dtype(at::kLong));
  return row_logprobs_forward(logits.detach(), no_ids, /*entropy=*/true).entropy;
}

}  // namespace opd::ops
