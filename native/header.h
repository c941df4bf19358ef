// header.h -- the device header (page 0), exactly as docs/ARCHITECTURE.md lays it out.
//
// All integers little-endian. The static part [0, 1576) is written once by format and
// covered by headerCrc. The boot counter lives outside it in two 16-byte slots, A at 2048
// and B at 2112 (each on its own 64-byte line), updated alternately: a boot writes
// count+1 into the slot not holding the current count, so a power cut during the update
// (which may tear the 16-byte slot between its two words) leaves the other slot valid.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nvram.h"

namespace nvram {
namespace header {

constexpr char magic[] = "NVRLDEV1";  // 8 bytes, no NUL on the device
constexpr uint32_t version = 1;

constexpr uint64_t magicOffset = 0;
constexpr uint64_t versionOffset = 8;
constexpr uint64_t headerBytesOffset = 12;
constexpr uint64_t sizeBytesOffset = 16;
constexpr uint64_t deviceIdOffset = 24;
constexpr uint64_t sectionCountOffset = 32;
constexpr uint64_t reservedOffset = 36;
constexpr uint64_t tableOffset = 40;
constexpr uint64_t entryBytes = 48;  // name[32], offset u64, length u64
constexpr uint64_t entryNameBytes = 32;
constexpr uint64_t crcOffset = 1576;  // CRC32C of [0, crcOffset)
constexpr uint64_t bootSlotOffsets[2] = {2048, 2112};
constexpr uint64_t bootSlotBytes = 16;  // bootCount u64, crc u32, reserved u32

static_assert(tableOffset + sectionsMax * entryBytes == crcOffset, "table ends at the CRC");
static_assert(bootSlotOffsets[0] % lineBytes == 0 && bootSlotOffsets[1] % lineBytes == 0,
              "each boot slot starts its own line");
static_assert(bootSlotOffsets[1] - bootSlotOffsets[0] >= lineBytes, "slots on separate lines");
static_assert(bootSlotOffsets[1] + bootSlotBytes <= headerBytes, "slots inside the header page");

// NVRAM_BAD_SIZE unless sizeBytes is a positive multiple of 4096, at least the header
// page and at most deviceBytesMax.
void checkDeviceSize(uint64_t sizeBytes, const std::string& label);

// Validates the section specs (count, names, lengths, fit) and lays them out in order from
// offset 4096, each rounded up to 4096. NVRAM_BAD_LAYOUT (or NVRAM_BAD_SIZE) on any problem.
std::vector<SectionInfo> layoutSections(uint64_t sizeBytes, const std::vector<SectionSpec>& specs,
                                        const std::string& label);

// Writes a whole header page (4096 bytes, zeroed first) with boot slot A = 0.
// `sections` must come from layoutSections for the same size.
HeaderInfo format(uint8_t* page, uint64_t sizeBytes, uint64_t deviceId,
                  const std::vector<SectionInfo>& sections);

// Validates and decodes the header of an image of `imageBytes` bytes (only page 0 is read).
// Errors, in the order checked: NVRAM_TRUNCATED, NVRAM_BAD_MAGIC, NVRAM_BAD_VERSION,
// NVRAM_HEADER_CHECKSUM, NVRAM_BAD_LAYOUT, NVRAM_BAD_SIZE, NVRAM_SIZE_MISMATCH, NVRAM_BAD_LAYOUT.
HeaderInfo parse(const uint8_t* image, uint64_t imageBytes, const std::string& label);

// The boot count: the larger count among valid slots, 0 if neither is valid.
uint64_t bootCount(const uint8_t* page, uint64_t deviceId);

// The 16-byte store a boot makes: into the slot not holding the current count.
struct BootSlotStore {
  uint64_t offset;  // 2048 or 2112
  uint8_t bytes[bootSlotBytes];
  uint64_t bootCount;  // the new count
};
BootSlotStore nextBoot(const uint8_t* page, uint64_t deviceId);

bool validSectionName(const std::string& name);

}  // namespace header
}  // namespace nvram
