// crc32c.h -- CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the
// device header and of the boot slots (docs/ARCHITECTURE.md).
//
// crc32c(data, length, seed) continues a running checksum: crc32c(b, crc32c(a)) equals
// crc32c(a ++ b); the seed of a fresh checksum is 0. crc32c("123456789") = 0xE3069283.
// On x86-64 with SSE4.2 the hardware instruction is used (checked at run time once);
// elsewhere a byte-wise table. Both are exported so that tests can hold them against
// each other and against known vectors.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nvram {

uint32_t crc32c(const uint8_t* data, size_t length, uint32_t seed = 0);
uint32_t crc32cTable(const uint8_t* data, size_t length, uint32_t seed = 0);
// Only call when crc32cHardwareAvailable() is true.
uint32_t crc32cHardware(const uint8_t* data, size_t length, uint32_t seed = 0);
bool crc32cHardwareAvailable();

}  // namespace nvram
