// CRC32C (Castagnoli), the checksum of TFRecord framing. Kept apart from the
// TensorBoard writer so tests can verify records with it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace opd {

// CRC32C of n bytes (reflected polynomial 0x82F63B78); crc32c("123456789") == 0xE3069283.
uint32_t crc32c(const void* data, size_t n);

// TFRecord's masked CRC32C of n bytes: a CRC stored next to the data it covers
// would otherwise be easy to confuse with a CRC of data that holds CRCs.
uint32_t masked_crc32c(const void* data, size_t n);

}  // namespace opd
