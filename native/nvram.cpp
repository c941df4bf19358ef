// nvram.cpp -- the shared pieces of the contract in nvram.h: error codes and argument checks.
#include "nvram.h"

#include <cmath>
#include <cstdio>

namespace nvram {

const char* codeName(Code code) {
  switch (code) {
    case Code::fileMissing: return "NVRAM_FILE_MISSING";
    case Code::fileExists: return "NVRAM_FILE_EXISTS";
    case Code::truncated: return "NVRAM_TRUNCATED";
    case Code::sizeMismatch: return "NVRAM_SIZE_MISMATCH";
    case Code::badMagic: return "NVRAM_BAD_MAGIC";
    case Code::badVersion: return "NVRAM_BAD_VERSION";
    case Code::headerChecksum: return "NVRAM_HEADER_CHECKSUM";
    case Code::badLayout: return "NVRAM_BAD_LAYOUT";
    case Code::badSize: return "NVRAM_BAD_SIZE";
    case Code::unknownSection: return "NVRAM_UNKNOWN_SECTION";
    case Code::outOfRange: return "NVRAM_OUT_OF_RANGE";
    case Code::badArgument: return "NVRAM_BAD_ARGUMENT";
    case Code::unaligned: return "NVRAM_UNALIGNED";
    case Code::closed: return "NVRAM_CLOSED";
    case Code::locked: return "NVRAM_LOCKED";
    case Code::powerCut: return "NVRAM_POWER_CUT";
    case Code::io: return "NVRAM_IO";
  }
  return "NVRAM_IO";
}

void fail(Code code, const std::string& label, const std::string& problem) {
  throw Error(code, "nvram: " + label + ": " + problem);
}

std::string formatNumber(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

uint64_t checkIndex(double value, const char* what, const std::string& label) {
  // NaN fails every comparison, so it is rejected by the first test.
  if (!(value >= 0)) {
    fail(Code::badArgument, label,
         std::string(what) + " must be >= 0 (got " + formatNumber(value) + ")");
  }
  if (!(value < jsIntegerLimit)) {
    fail(Code::badArgument, label,
         std::string(what) + " must be below 2^53 (got " + formatNumber(value) + ")");
  }
  if (std::floor(value) != value) {
    fail(Code::badArgument, label,
         std::string(what) + " must be an integer (got " + formatNumber(value) + ")");
  }
  return static_cast<uint64_t>(value);
}

void checkRange(uint64_t offset, uint64_t length, uint64_t size, const std::string& label) {
  // Written so that offset + length cannot overflow.
  if (offset > size || length > size - offset) {
    fail(Code::outOfRange, label,
         "range [" + std::to_string(offset) + ", " + std::to_string(offset) + "+" +
             std::to_string(length) + ") is outside the device of " + std::to_string(size) +
             " bytes");
  }
}

void checkAligned(uint64_t offset, uint64_t alignment, const char* what, const std::string& label) {
  if (offset % alignment != 0) {
    fail(Code::unaligned, label,
         std::string(what) + " " + std::to_string(offset) + " is not a multiple of " +
             std::to_string(alignment));
  }
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

}  // namespace nvram
