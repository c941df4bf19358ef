// nvram.h -- the nvrelay NVRAM device: contract of the pure C++ core.
//
// This header is the manual of the device (SPEC section 3, elements [140] and [141]).
// Nothing in it depends on Node.js; native/addon.cpp is the only file that includes napi.h
// and it translates every `nvram::Error` below into a JavaScript `NvramError` with the
// same `code` string (src/nvram/errors.ts).
//
// THE DEVICE
//   A device is `sizeBytes` bytes (a positive multiple of 4096) backed by a file (direct
//   mode, direct_device.h) or by memory (traced mode, traced_device.h). Page 0 is the header
//   (header.h, docs/ARCHITECTURE.md); named sections follow, each 4096-aligned.
//
// ATOMICITY
//   word: an aligned 8-byte unit. A store never tears inside a word: after any power cut a
//         word holds either its durable content or the full content it had after one of
//         the stores to it. Nothing larger than a word is atomic: a 16-byte store may
//         survive half.
//   line: an aligned 64-byte unit, the unit of flushing.
//
// ORDERING AND DURABILITY (what persist guarantees)
//   store(offset, bytes)   visible at once to later loads; *pending* (not durable).
//   flush(offset, length)  every pending store to a line overlapping the range becomes
//                          *flushing* (still not durable).
//   fence()                every flushing store becomes *durable*.
//   persist = flush + fence. Nothing is durable, and nothing is ordered with respect to
//   a power cut, before a persist covering it has returned.
//   Which non-durable stores a power cut may keep is the persistency model:
//     px86    per line, a prefix (in program order) of its non-durable word-stores
//             survives; lines are independent (x86 with ADR).
//     relaxed any subset of the non-durable word-stores survives.
//     eadr    a prefix of all non-durable word-stores in global program order survives.
//
// DIRECT MODE (direct_device.h)
//   Stores go straight into a MAP_SHARED mapping from JavaScript; the core only opens,
//   locks, maps, boots, msyncs and closes. In 'process' durability a persist is a memory
//   fence: a kill -9 loses nothing, the page cache holds the shared pages. In 'power'
//   durability persist also calls msync(MS_SYNC) on the pages touched; an asynchronous fence
//   runs that msync on a worker thread while JavaScript goes on storing. close msyncs the whole
//   mapping once in both durabilities, so a write-back error surfaces there as NVRAM_IO
//   (the device is closed and unlocked all the same).
//   Format preallocates every block of the file (posix_fallocate): the file is never sparse,
//   because a store into a hole that finds the file system full raises SIGBUS, not an error.
//   A format that cannot preallocate (ENOSPC, or EOPNOTSUPP on a file system without
//   fallocate) throws NVRAM_IO and leaves no file behind.
//   Caveat: if another process truncates the file while it is mapped, touching the lost
//   pages raises SIGBUS; the advisory lock keeps cooperating writers out, not truncate(1).
//
// ERRORS
//   Every expected failure throws `nvram::Error{code, message}`; the message starts with
//   "nvram: <label>: " where label is the file path, or "memory" for in-memory images.
//   A power cut in traced mode throws `nvram::PowerCut` (code NVRAM_POWER_CUT), carrying
//   the index of the instruction that did not run. Broken internal invariants throw
//   `nvram::AssertionFailed` (a programmer error: never caught by the runtime).
//   No function writes anything before all of its arguments have been validated.
//   Every number from JavaScript must be an integer in [0, 2^53) (NVRAM_BAD_ARGUMENT), every
//   range must lie inside its device or array (NVRAM_OUT_OF_RANGE).
//
// THE ADDON'S ENTRY POINTS (src/nvram/addon-api.ts) AND WHAT EACH MAY THROW
//   crc32c(bytes, offset, length, seed)   BAD_ARGUMENT, OUT_OF_RANGE
//   format(path, size, sections, force)   BAD_SIZE, BAD_LAYOUT, BAD_ARGUMENT, FILE_EXISTS,
//                                         LOCKED (force over an open device), IO (also: no
//                                         room to preallocate; the file is removed)
//   formatImage(out, sections, deviceId)  BAD_SIZE, BAD_LAYOUT, BAD_ARGUMENT
//   parseHeader(image, label)             TRUNCATED, BAD_MAGIC, BAD_VERSION, HEADER_CHECKSUM,
//                                         BAD_LAYOUT, BAD_SIZE, SIZE_MISMATCH
//   bootImage(image)                      as parseHeader
//   new DirectDevice(path, durability)    FILE_MISSING, LOCKED, IO and as parseHeader
//     .msync(offset, length)              BAD_ARGUMENT, OUT_OF_RANGE, CLOSED, IO
//     .msyncAsync(offset, length, done)   BAD_ARGUMENT, OUT_OF_RANGE, CLOSED thrown at once; IO
//                                         passed to done(error) later, on the JS thread
//     .close()                            IO (msync of the mapping failed; closed all the same);
//                                         idempotent: a second close does nothing; waits for
//                                         every msyncAsync still running before it unmaps
//   new TracedDevice(image, record)       BAD_SIZE (not a positive multiple of 64), BAD_ARGUMENT
//     .store/.flush/.fence                BAD_ARGUMENT, OUT_OF_RANGE, POWER_CUT, CLOSED
//     .setPowerCut(k)                     BAD_ARGUMENT (k < instructionCount, or not -1/index)
//     .imageCount/.pendingStores          BAD_ARGUMENT (model), CLOSED
//     .survivorsByIndex(model, index)     BAD_ARGUMENT, OUT_OF_RANGE (index >= imageCount)
//     .survivorsBySeed/.allows            BAD_ARGUMENT (allows returns false for unknown ids)
//     .buildImage(ids, out)               BAD_ARGUMENT (unknown or duplicate id, out size)
//     .flipBits(offset, length, n, seed)  BAD_ARGUMENT, OUT_OF_RANGE
//     .boot()                             as parseHeader (of the durable image)
//     .exportTrace()                      BAD_ARGUMENT (recording off)
//     .applyTrace(trace, from, to)        BAD_ARGUMENT, OUT_OF_RANGE (checked for the whole
//                                         range first), then POWER_CUT mid-way
//     .close()                            nothing (idempotent; an extension of addon-api.ts)
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace nvram {

// Geometry (SPEC 3, docs/ARCHITECTURE.md).
constexpr uint64_t wordBytes = 8;
constexpr uint64_t lineBytes = 64;
constexpr uint64_t pageBytes = 4096;
constexpr uint64_t headerBytes = 4096;
constexpr uint32_t sectionsMax = 32;
constexpr uint32_t sectionNameBytesMax = 31;
// Largest device: 1 TiB (offsets stay far below 2^53); format preallocates all of it.
constexpr uint64_t deviceBytesMax = uint64_t(1) << 40;
// JavaScript numbers are exact integers below 2^53; every offset crossing the boundary is.
constexpr double jsIntegerLimit = 9007199254740992.0;  // 2^53

enum class Code {
  fileMissing,     // NVRAM_FILE_MISSING: the device file does not exist
  fileExists,      // NVRAM_FILE_EXISTS: format refused to overwrite an existing file
  truncated,       // NVRAM_TRUNCATED: file shorter than the header page
  sizeMismatch,    // NVRAM_SIZE_MISMATCH: header size differs from the file size
  badMagic,        // NVRAM_BAD_MAGIC: not an nvrelay device (or the device was lost)
  badVersion,      // NVRAM_BAD_VERSION: format version this build does not read
  headerChecksum,  // NVRAM_HEADER_CHECKSUM: header CRC32C mismatch
  badLayout,       // NVRAM_BAD_LAYOUT: section table invalid or cannot be laid out
  badSize,         // NVRAM_BAD_SIZE: size not a positive multiple of 4096, or too large
  unknownSection,  // NVRAM_UNKNOWN_SECTION: no section of that name
  outOfRange,      // NVRAM_OUT_OF_RANGE: offset/length outside the device
  badArgument,     // NVRAM_BAD_ARGUMENT: negative, non-integer, wrong type
  unaligned,       // NVRAM_UNALIGNED: alignment required and not met
  closed,          // NVRAM_CLOSED: use after close
  locked,          // NVRAM_LOCKED: another process holds the device open for writing
  powerCut,        // NVRAM_POWER_CUT: traced device, power was cut
  io,              // NVRAM_IO: an operating-system call failed (message carries errno text)
};

// The stable string of a code, exactly as in src/nvram/errors.ts.
const char* codeName(Code code);

class Error : public std::runtime_error {
 public:
  Error(Code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Code code() const { return code_; }

 private:
  Code code_;
};

// Thrown by the traced device at the instruction where power is cut and by every later one.
class PowerCut : public Error {
 public:
  PowerCut(const std::string& message, uint64_t instruction)
      : Error(Code::powerCut, message), instruction_(instruction) {}
  uint64_t instruction() const { return instruction_; }

 private:
  uint64_t instruction_;
};

// A broken invariant of the core itself; stays on in release builds.
class AssertionFailed : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

inline void verify(bool condition, const char* what) {
  if (!condition) throw AssertionFailed(std::string("nvram: assertion failed: ") + what);
}

// Builds "nvram: <label>: <problem>".
[[noreturn]] void fail(Code code, const std::string& label, const std::string& problem);

// A JavaScript number that must be an exact integer in [0, 2^53): NVRAM_BAD_ARGUMENT if not.
uint64_t checkIndex(double value, const char* what, const std::string& label);
// [offset, offset+length) must lie within [0, size): NVRAM_OUT_OF_RANGE if not.
void checkRange(uint64_t offset, uint64_t length, uint64_t size, const std::string& label);
// offset must be a multiple of `alignment`: NVRAM_UNALIGNED if not.
void checkAligned(uint64_t offset, uint64_t alignment, const char* what, const std::string& label);

std::string hex32(uint32_t value);
// A JS number as text: integers without a fraction, "inf", "nan".
std::string formatNumber(double value);

// Little-endian loads and stores at any byte address (the image may be unaligned).
inline uint64_t loadU64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;  // x86-64 and aarch64 Linux are little-endian; see static_assert in header.cpp
}
inline uint32_t loadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline void storeU64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline void storeU32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

// ---- Header (header.h holds the functions) ----

struct SectionSpec {
  std::string name;  // 1..31 bytes of [a-z0-9._-]
  uint64_t length;   // bytes, > 0; rounded up to 4096 when laid out
};

struct SectionInfo {
  std::string name;
  uint64_t offset;  // absolute, multiple of 4096
  uint64_t length;  // multiple of 4096
};

struct HeaderInfo {
  std::string magic;  // "NVRLDEV1"
  uint32_t version = 0;
  uint64_t sizeBytes = 0;
  uint64_t deviceId = 0;
  uint64_t bootCount = 0;
  std::vector<SectionInfo> sections;
};

enum class Model { px86, relaxed, eadr };
enum class Durability { process, power };

}  // namespace nvram
