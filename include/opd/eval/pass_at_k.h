// The unbiased pass@k estimator (Chen et al., 2021): from n samples of a
// problem of which c are correct, the probability that at least one of k
// samples drawn without replacement is correct.
#pragma once

#include <cstdint>

namespace opd::eval {

// 1 - C(n - c, k) / C(n, k), as a product (no overflow for large n); 1 when
// n - c < k. Throws unless 0 <= c <= n and 1 <= k <= n.
double pass_at_k(int64_t n, int64_t c, int64_t k);

}  // namespace opd::eval
