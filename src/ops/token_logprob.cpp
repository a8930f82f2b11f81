#include "opd/ops/token_logprob.h"

#include <vector>

namespace opd::ops {
namespace {

// Applies fn to row chunks of a [N, V] view and concatenates the [N] results.
template <typename Fn>
at::Tensor by_row_chunks(const at::Tensor& rows, int64_t chunk_rows, Fn fn) {
  const int64_t n = rows.size(0);
  if (n <= chunk_rows) return fn(rows, 0, n);
  std::vector<at::Tensor> parts;
  for (int64_t b = 0; b < n; b += chunk_rows) parts.push_back(fn(rows, b, std::min(n, b + chunk_rows)));
  return at::cat(parts);
}

}  // namespace

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
  auto out = by_row_chunks(rows, chunk_rows, [&](const at::Tensor& r, int64_t b, int64_t e) {
    auto chunk = r.slice(0, b, e).to(at::kFloat);
    return chunk.gather(1, ids.slice(0, b, e)).squeeze(1) - chunk.logsumexp(1);
  });
  return out.view(targets.sizes());
}

at::Tensor softmax_entropy(const at::Tensor& logits, int64_t chunk_rows) {
  TORCH_CHECK(logits.dim() >= 1, "softmax_entropy: expected logits [..., V], got ", logits.sizes());
  const int64_t V = logits.size(-1);
  auto out = by_row_chunks(logits.reshape({-1, V}), chunk_rows,
                           [](const at::Tensor& r, int64_t b, int64_t e) {
                             auto logp = at::log_softmax(r.slice(0, b, e).to(at::kFloat), 1);
                             return -(logp.exp() * logp).sum(1);
                           });
  auto sizes = logits.sizes().vec();
  sizes.pop_back();
  return out.view(sizes);
}

}  // namespace opd::ops
