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
// lie free at its top. Tensors of 32 MiB and more (the [V, H] gradients and
// [N, V] logits of a big vocabulary) go through a caching allocator
// (caching_cpu_allocator.h) that keeps freed ones, up to OPD_CPU_CACHE_MB
// (default a quarter of the memory, at most 8 GiB; 0 turns it off). A
// MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ in the environment wins
// over the setting it names; OPD_MALLOC_TUNING=0 leaves glibc's own
// (adaptive) defaults and no cache, to measure against. Returns what is in
// effect, e.g. "mmap 32 MiB, trim 256 MiB, blocks >= 32 MiB cached up to
// 6144 MiB". Throws on a malformed OPD_CPU_CACHE_MB.
std::string keep_freed_cpu_memory();

}  // namespace opd
