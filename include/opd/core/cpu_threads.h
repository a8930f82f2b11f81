// Intra-op threads for CPU work. Debian's LibTorch starts with one thread;
// programs call this once at start-up.
#pragma once

namespace opd {

// Uses every hardware thread unless OMP_NUM_THREADS is set (then LibTorch's
// own choice stands). Returns the number of threads in effect.
int use_all_cpu_threads();

}  // namespace opd
