#include "opd/core/seed_streams.h"

namespace opd {

uint64_t draw_seed(uint64_t seed, SeedStream stream, int64_t step) {
  // A splitmix64-style finaliser over the three inputs.
  uint64_t x = seed * 0x9E3779B97F4A7C15ull ^ (static_cast<uint64_t>(stream) << 32) ^ static_cast<uint64_t>(step);
  x ^= x >> 31;
  return x * 0xBF58476D1CE4E5B9ull;
}

}  // namespace opd
