#include "opd/ops/token_logprob.h"

#include "row_chunks.h"

namespace opd::ops {

at::Tensor token_logprob(const at::Tensor& logits, const at::Tensor& targets, int64_t chunk_rows) {
  TORCH_CHECK(logits.dim() >= 1 && logits.dim() == targets.dim() + 1,
              "token_logprob: expected logits [..., V] and targets [...], got ", logits.sizes(),
              " and ", targets.sizes());
  TORCH_CHECK(logits.sizes().slice(0, targets.dim()) == targets.sizes(),
              "token_logprob: logits ", logits.sizes(), " do not match targets ", targets.sizes());
  TORCH_CHECK(targets.scalar_type() == at::kLong, "token_logprob: targets must be int64, got ",
              targets.scalar_type());
  TORCH_CHECK(chunk_rows > 0, "token_logprob: chunk_rows must be > 0, got ", chunk_rows);
  const int64_t V = logits.size(-1);
  auto rows = logits.reshape({-1, V});
  auto ids = targets.reshape({-1, 1});
  auto out = concat_row_chunks(rows.size(0), chunk_rows, [&](int64_t b, int64_t e) {
    // log_softmax subtracts the row max first; x - logsumexp(x) would lose the
    // low bits of every log-prob when logits are large.
    return at::log_softmax(rows.slice(0, b, e).to(at::kFloat), 1).gather(1, ids.slice(0, b, e)).squeeze(1);
  });
  return out.view(targets.sizes());
}

at::Tensor gather_logprobs(const at::Tensor& logits, const at::Tensor& ids, int64_t chunk_rows) {
  const int64_t d = logits.dim();
  TORCH_CHECK(d >= 1 && ids.dim() == d && logits.sizes().slice(0, d - 1) == ids.sizes().slice(0, d - 1),
              "gather_logprobs: expected logits [..., V] and ids [..., K], got ", logits.sizes(),
              " and ", ids.sizes());
  TORCH_CHECK(ids.scalar_type() == at::kLong, "gather_logprobs: ids must be int64, got ",
              ids.scalar_type());
  TORCH_CHECK(chunk_rows > 0, "gather_logprobs: chunk_rows must be > 0, got ", chunk_rows);
  const int64_t V = logits.size(-1);
  const int64_t K = ids.size(-1);
  auto rows = logits.reshape({-1, V});
  auto idx = ids.reshape({-1, K});
  auto out = concat_row_chunks(rows.size(0), chunk_rows, [&](int64_t b, int64_t e) {
    return at::log_softmax(rows.slice(0, b, e).to(at::kFloat), 1).gather(1, idx.slice(0, b, e));
  });
  return out.view(ids.sizes());
}

at::Tensor softmax_entropy(const at::Tensor& logits, int64_t chunk_rows) {
  TORCH_CHECK(logits.dim() >= 1, "softmax_entropy: expected logits [..., V], got ", logits.sizes());
  const int64_t V = logits.size(-1);
  auto rows = logits.reshape({-1, V});
  auto out = concat_row_chunks(rows.size(0), chunk_rows, [&](int64_t b, int64_t e) {
    auto logp = at::log_softmax(rows.slice(0, b, e).to(at::kFloat), 1);
    return -(logp.exp() * logp).sum(1);
  });
  auto sizes = logits.sizes().vec();
  sizes.pop_back();
  return out.view(sizes);
}

}  // namespace opd::ops
