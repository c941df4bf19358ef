// crc32c.cpp -- see crc32c.h.
#include "crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

namespace nvram {

namespace {

constexpr uint32_t polynomial = 0x82F63B78u;  // Castagnoli, reflected

constexpr std::array<uint32_t, 256> makeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; bit++) crc = (crc >> 1) ^ ((crc & 1u) ? polynomial : 0u);
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> table = makeTable();

bool detectHardware() {
#if defined(__x86_64__)
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  return (ecx & bit_SSE4_2) != 0;
#else
  return false;
#endif
}

const bool hardwareAvailable = detectHardware();

}  // namespace

bool crc32cHardwareAvailable() { return hardwareAvailable; }

uint32_t crc32cTable(const uint8_t* data, size_t length, uint32_t seed) {
  uint32_t crc = ~seed;
  for (size_t i = 0; i < length; i++) crc = table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc32cHardware(const uint8_t* data, size_t length,
                                                          uint32_t seed) {
  uint64_t crc = ~seed;
  size_t i = 0;
  for (; i + 8 <= length; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    crc = _mm_crc32_u64(crc, word);
  }
  uint32_t crc32 = static_cast<uint32_t>(crc);
  for (; i < length; i++) crc32 = _mm_crc32_u8(crc32, data[i]);
  return ~crc32;
}
#else
uint32_t crc32cHardware(const uint8_t* data, size_t length, uint32_t seed) {
  return crc32cTable(data, length, seed);
}
#endif

uint32_t crc32c(const uint8_t* data, size_t length, uint32_t seed) {
  return hardwareAvailable ? crc32cHardware(data, length, seed) : crc32cTable(data, length, seed);
}

}  // namespace nvram
