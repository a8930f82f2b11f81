#include "opd/eval/pass_at_k.h"

#include <c10/util/Exception.h>

namespace opd::eval {

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  TORCH_CHECK(0 <= c && c <= n && 1 <= k && k <= n, "pass_at_k: need 0 <= c <= n and 1 <= k <= n, got n ", n,
              ", c ", c, ", k ", k);
  if (n - c < k) return 1.0;
  // C(n-c, k) / C(n, k) = prod_{i = n-c+1}^{n} (1 - k / i)
  double fail = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) fail *= 1.0 - double(k) / double(i);
  return 1.0 - fail;
}

}  // namespace opd::eval
