// header.cpp -- see header.h and docs/ARCHITECTURE.md.
#include "header.h"

#include <cstring>
#include <set>

#include "crc32c.h"

namespace nvram {
namespace header {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the on-media format is little-endian");

namespace {

uint64_t roundUpToPage(uint64_t n) { return (n + pageBytes - 1) / pageBytes * pageBytes; }

uint32_t slotCrc(uint64_t deviceId, uint64_t count) {
  uint8_t bytes[16];
  storeU64(bytes, deviceId);
  storeU64(bytes + 8, count);
  return crc32c(bytes, sizeof bytes);
}

// A slot is valid if its CRC binds it to this device and its count is a JS-safe integer.
bool readSlot(const uint8_t* page, int slot, uint64_t deviceId, uint64_t* count) {
  const uint8_t* p = page + bootSlotOffsets[slot];
  *count = loadU64(p);
  return loadU32(p + 8) == slotCrc(deviceId, *count) && *count < (uint64_t(1) << 53);
}

std::string readName(const uint8_t* entry) {
  size_t length = 0;
  while (length < entryNameBytes && entry[length] != 0) length++;
  return std::string(reinterpret_cast<const char*>(entry), length);
}

void checkIdentity(const uint8_t* image, uint64_t imageBytes, const std::string& label) {
  if (imageBytes < headerBytes) {
    fail(Code::truncated, label,
         "file is " + std::to_string(imageBytes) + " bytes, shorter than the " +
             std::to_string(headerBytes) + "-byte header");
  }
  if (std::memcmp(image + magicOffset, magic, 8) != 0) {
    bool zero = true;
    for (uint64_t i = 0; i < headerBytes && zero; i++) zero = image[i] == 0;
    fail(Code::badMagic, label,
         zero ? "no device header (page 0 is all zero: never formatted, or the device was lost)"
              : "bad magic (not an nvrelay device)");
  }
  uint32_t storedVersion = loadU32(image + versionOffset);
  if (storedVersion != version) {
    fail(Code::badVersion, label,
         "format version " + std::to_string(storedVersion) + " is not supported (this build reads " +
             std::to_string(version) + ")");
  }
  uint32_t stored = loadU32(image + crcOffset);
  uint32_t computed = crc32c(image, crcOffset);
  if (stored != computed) {
    fail(Code::headerChecksum, label,
         "header checksum mismatch (stored " + hex32(stored) + ", computed " + hex32(computed) + ")");
  }
}

void checkSizes(const uint8_t* image, uint64_t imageBytes, const std::string& label) {
  uint32_t storedHeaderBytes = loadU32(image + headerBytesOffset);
  if (storedHeaderBytes != headerBytes) {
    fail(Code::badLayout, label,
         "header size " + std::to_string(storedHeaderBytes) + " is not " +
             std::to_string(headerBytes));
  }
  uint64_t sizeBytes = loadU64(image + sizeBytesOffset);
  checkDeviceSize(sizeBytes, label);
  if (sizeBytes != imageBytes) {
    fail(Code::sizeMismatch, label,
         "header says the device is " + std::to_string(sizeBytes) + " bytes, but the file is " +
             std::to_string(imageBytes) + " bytes");
  }
}

void badTable(const std::string& label, uint32_t index, const std::string& problem) {
  fail(Code::badLayout, label, "section table entry " + std::to_string(index) + ": " + problem);
}

// Sections in table order from 4096, aligned, non-overlapping, inside the device.
std::vector<SectionInfo> readTable(const uint8_t* image, uint64_t sizeBytes,
                                   const std::string& label) {
  uint32_t count = loadU32(image + sectionCountOffset);
  if (count > sectionsMax) {
    fail(Code::badLayout, label,
         "section count " + std::to_string(count) + " exceeds " + std::to_string(sectionsMax));
  }
  if (loadU32(image + reservedOffset) != 0) fail(Code::badLayout, label, "reserved field not zero");
  std::vector<SectionInfo> sections;
  std::set<std::string> names;
  uint64_t end = headerBytes;
  for (uint32_t i = 0; i < sectionsMax; i++) {
    const uint8_t* entry = image + tableOffset + i * entryBytes;
    if (i >= count) {
      for (uint64_t b = 0; b < entryBytes; b++) {
        if (entry[b] != 0) badTable(label, i, "unused entry not zero");
      }
      continue;
    }
    SectionInfo s{readName(entry), loadU64(entry + 32), loadU64(entry + 40)};
    for (uint64_t b = s.name.size(); b < entryNameBytes; b++) {
      if (entry[b] != 0) badTable(label, i, "name not NUL-padded");
    }
    if (!validSectionName(s.name)) badTable(label, i, "invalid name '" + s.name + "'");
    if (!names.insert(s.name).second) badTable(label, i, "duplicate name '" + s.name + "'");
    if (s.offset % pageBytes != 0 || s.length % pageBytes != 0 || s.length == 0) {
      badTable(label, i, "'" + s.name + "' offset/length not positive multiples of 4096");
    }
    if (s.offset < end || s.offset > sizeBytes || s.length > sizeBytes - s.offset) {
      badTable(label, i, "'" + s.name + "' overlaps or leaves the device");
    }
    end = s.offset + s.length;
    sections.push_back(s);
  }
  return sections;
}

}  // namespace

bool validSectionName(const std::string& name) {
  if (name.empty() || name.size() > sectionNameBytesMax) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void checkDeviceSize(uint64_t sizeBytes, const std::string& label) {
  if (sizeBytes < headerBytes || sizeBytes % pageBytes != 0 || sizeBytes > deviceBytesMax) {
    fail(Code::badSize, label,
         "device size " + std::to_string(sizeBytes) +
             " is not a positive multiple of 4096 between 4096 and 2^40 bytes");
  }
}

std::vector<SectionInfo> layoutSections(uint64_t sizeBytes, const std::vector<SectionSpec>& specs,
                                        const std::string& label) {
  checkDeviceSize(sizeBytes, label);
  if (specs.size() > sectionsMax) {
    fail(Code::badLayout, label,
         std::to_string(specs.size()) + " sections exceed the maximum of " +
             std::to_string(sectionsMax));
  }
  std::vector<SectionInfo> sections;
  std::set<std::string> names;
  uint64_t offset = headerBytes;
  for (const SectionSpec& spec : specs) {
    if (!validSectionName(spec.name)) {
      fail(Code::badLayout, label,
           "section name '" + spec.name + "' is not 1..31 characters of [a-z0-9._-]");
    }
    if (!names.insert(spec.name).second) {
      fail(Code::badLayout, label, "duplicate section name '" + spec.name + "'");
    }
    if (spec.length == 0 || spec.length > deviceBytesMax) {
      fail(Code::badLayout, label,
           "section '" + spec.name + "' length " + std::to_string(spec.length) +
               " is not between 1 and 2^40");
    }
    uint64_t length = roundUpToPage(spec.length);
    if (length > sizeBytes - offset) {  // offset <= sizeBytes holds by induction
      fail(Code::badLayout, label,
           "section '" + spec.name + "' (" + std::to_string(length) + " bytes at " +
               std::to_string(offset) + ") does not fit in the device of " +
               std::to_string(sizeBytes) + " bytes");
    }
    sections.push_back(SectionInfo{spec.name, offset, length});
    offset += length;
  }
  return sections;
}

HeaderInfo format(uint8_t* page, uint64_t sizeBytes, uint64_t deviceId,
                  const std::vector<SectionInfo>& sections) {
  verify(sections.size() <= sectionsMax, "section count within the table");
  std::memset(page, 0, headerBytes);
  std::memcpy(page + magicOffset, magic, 8);
  storeU32(page + versionOffset, version);
  storeU32(page + headerBytesOffset, static_cast<uint32_t>(headerBytes));
  storeU64(page + sizeBytesOffset, sizeBytes);
  storeU64(page + deviceIdOffset, deviceId);
  storeU32(page + sectionCountOffset, static_cast<uint32_t>(sections.size()));
  for (size_t i = 0; i < sections.size(); i++) {
    uint8_t* entry = page + tableOffset + i * entryBytes;
    verify(validSectionName(sections[i].name), "section name validated by layoutSections");
    std::memcpy(entry, sections[i].name.data(), sections[i].name.size());
    storeU64(entry + 32, sections[i].offset);
    storeU64(entry + 40, sections[i].length);
  }
  storeU32(page + crcOffset, crc32c(page, crcOffset));
  // Boot slot A = 0: the count of a freshly formatted device.
  storeU64(page + bootSlotOffsets[0], 0);
  storeU32(page + bootSlotOffsets[0] + 8, slotCrc(deviceId, 0));
  // Read back what was just written (paired assertion).
  HeaderInfo info = parse(page, sizeBytes, "memory");
  verify(info.bootCount == 0 && info.sections.size() == sections.size(), "formatted header reads back");
  return info;
}

HeaderInfo parse(const uint8_t* image, uint64_t imageBytes, const std::string& label) {
  checkIdentity(image, imageBytes, label);
  checkSizes(image, imageBytes, label);
  HeaderInfo info;
  info.magic = std::string(magic, 8);
  info.version = version;
  info.sizeBytes = loadU64(image + sizeBytesOffset);
  info.deviceId = loadU64(image + deviceIdOffset);
  info.sections = readTable(image, info.sizeBytes, label);
  info.bootCount = bootCount(image, info.deviceId);
  return info;
}

uint64_t bootCount(const uint8_t* page, uint64_t deviceId) {
  uint64_t count[2];
  bool valid[2] = {readSlot(page, 0, deviceId, &count[0]), readSlot(page, 1, deviceId, &count[1])};
  uint64_t result = 0;
  for (int i = 0; i < 2; i++) {
    if (valid[i] && count[i] > result) result = count[i];
  }
  return result;
}

BootSlotStore nextBoot(const uint8_t* page, uint64_t deviceId) {
  uint64_t count[2];
  bool valid[2] = {readSlot(page, 0, deviceId, &count[0]), readSlot(page, 1, deviceId, &count[1])};
  // The current slot holds the larger valid count (A on a tie); with none valid the next
  // boot writes A.
  int current = 1;
  if (valid[0] && (!valid[1] || count[0] >= count[1])) current = 0;
  else if (valid[1]) current = 1;
  uint64_t now = valid[current] ? count[current] : 0;
  verify(now + 1 < (uint64_t(1) << 53), "boot count stays a JS-safe integer");
  BootSlotStore store{};
  int next = 1 - current;
  store.offset = bootSlotOffsets[next];
  store.bootCount = now + 1;
  storeU64(store.bytes, store.bootCount);
  storeU32(store.bytes + 8, slotCrc(deviceId, store.bootCount));
  storeU32(store.bytes + 12, 0);
  return store;
}

}  // namespace header
}  // namespace nvram
