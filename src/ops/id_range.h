// The check that token ids index a vocabulary, without a host sync on CUDA.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace opd::ops {

// Every id in [0, V). On the CPU a failure is one error naming `op` and the
// range found; on CUDA the check is queued on the stream (a failure aborts
// the stream's next synchronisation with `op`'s message) so that no call
// waits for the device to answer it.
void check_ids_in_range(const at::Tensor& ids, int64_t V, const char* op);

}  // namespace opd::ops
