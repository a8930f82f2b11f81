// Philox4x32-10 (Salmon, Moraes, Dror and Shaw, SC 2011): a counter-based
// generator whose output is a pure function of (counter, key). The CPU ops
// and the CUDA kernels share this header, so a token's draw is the same bits
// on either device, in any launch order, and needs no generator state (safe
// under CUDA graph capture). Plain C++: no CUDA, no LibTorch.
#pragma once

#include "row_layout.h"  // OPD_HOST_DEVICE

#include <cstdint>

namespace opd::kernels {

struct Philox4x32 {
  uint32_t v[4];
};

// Ten rounds of Philox4x32 on `counter` under the key (k0, k1).
OPD_HOST_DEVICE Philox4x32 philox4x32_10(Philox4x32 c, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(kMul0) * c.v[0];
    const uint64_t p1 = uint64_t(kMul1) * c.v[2];
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    c = Philox4x32{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
    k0 += kWeyl0;
    k1 += kWeyl1;
  }
  return c;
}

// The uniform draw u in [0, 1) of token `index` at optimizer step `step` of a
// run seeded with `seed`: key = seed, counter = (index, step) as 64-bit
// halves, u = the first 53 bits of the output. Only (seed, step, index)
// matter, so a token keeps its draw however the step is split into
// micro-batches or ranks.
OPD_HOST_DEVICE double token_uniform(uint64_t seed, int64_t step, int64_t index) {
  const uint64_t i = uint64_t(index), s = uint64_t(step);
  const Philox4x32 out = philox4x32_10(
      Philox4x32{{uint32_t(i), uint32_t(i >> 32), uint32_t(s), uint32_t(s >> 32)}},
      uint32_t(seed), uint32_t(seed >> 32));
  const uint64_t bits53 = (uint64_t(out.v[0]) << 21) ^ (uint64_t(out.v[1]) >> 11);
  return double(bits53) * (1.0 / 9007199254740992.0);  // 2^-53
}

}  // namespace opd::kernels
