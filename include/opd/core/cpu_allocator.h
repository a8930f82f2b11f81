// glibc's malloc on the CPU path. By default it hands every freed block of
// 128 KiB or more back to the kernel (munmap, or a trim of the heap top) and
// faults the pages in again at the next allocation of that size. A decode
// step frees and reallocates the same activation and logits buffers every
// token, so the rollouts spent several times the user time of a Python peer
// in the kernel. Programs call this once at start-up, before LibTorch
// allocates anything large.
#pragma once

#include <string>

namespace opd {

// Keeps freed blocks below 32 MiB inside the process (they are served from
// the heap, not mmap) and returns heap memory to the kernel only once 256 MiB
// lie free at its top. Tensors of 32 MiB and more (weights, the [N, V]
// logits of a big vocabulary) still come from and go back to mmap, so the
// resident set does not hold on to them. A MALLOC_MMAP_THRESHOLD_ or
// MALLOC_TRIM_THRESHOLD_ in the environment wins over the setting it names;
// OPD_MALLOC_TUNING=0 leaves glibc's own (adaptive) defaults, to measure
// against. Returns what is in effect, e.g. "mmap 32 MiB, trim 256 MiB".
std::string keep_freed_cpu_memory();

}  // namespace opd
