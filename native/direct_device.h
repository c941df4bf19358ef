// direct_device.h -- a device file mapped MAP_SHARED (direct mode, SPEC 3).
//
// JavaScript stores straight into the mapping; this class only creates (format), opens,
// locks, maps, boots, msyncs and closes. Guarantees:
//   - open validates the header before writing anything, takes an exclusive advisory lock
//     (flock LOCK_EX|LOCK_NB; NVRAM_LOCKED if another open file description holds it,
//     including one in the same process), maps the whole file and increments the boot
//     counter durably (two-slot update, msync of page 0) before returning.
//   - format validates every argument before creating anything, creates the file with mode
//     0600 and O_EXCL (NVRAM_FILE_EXISTS) unless forced, preallocates every block
//     (posix_fallocate: the file is never sparse, so no store into the mapping can meet a
//     full file system), writes the header and fsyncs the file and its directory. If a step
//     after creating (or, when forced, truncating) the file fails -- ENOSPC, or a file system
//     without fallocate -- it throws NVRAM_IO and removes the file.
//   - msync(offset, length) flushes the pages covering the range with MS_SYNC.
//   - close is idempotent; after it msync throws NVRAM_CLOSED. It msyncs the whole mapping
//     once (MS_SYNC, in both durabilities), then unmaps and releases the lock whatever the
//     msync returned, and throws NVRAM_IO if the msync failed (a write-back error). A device
//     dropped without close keeps its mapping (and with it the lock) until the last
//     JavaScript view of the mapping is collected, and is never msynced.
// Errors: NVRAM_FILE_MISSING, NVRAM_FILE_EXISTS, NVRAM_TRUNCATED, NVRAM_SIZE_MISMATCH,
// NVRAM_BAD_MAGIC, NVRAM_BAD_VERSION, NVRAM_HEADER_CHECKSUM, NVRAM_BAD_LAYOUT, NVRAM_BAD_SIZE,
// NVRAM_OUT_OF_RANGE, NVRAM_CLOSED, NVRAM_LOCKED, NVRAM_IO (with the errno text).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nvram.h"

namespace nvram {

// A MAP_SHARED mapping, shared between the device and whatever exposes it (the JS
// ArrayBuffer): unmapped by the device's close or by the last owner, whichever is first.
class Mapping {
 public:
  Mapping(uint8_t* address, uint64_t length) : address_(address), length_(length) {}
  ~Mapping() { unmap(); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  uint8_t* address() const { return address_; }
  uint64_t length() const { return length_; }
  void unmap();

 private:
  uint8_t* address_;
  uint64_t length_;
};

class DirectDevice {
 public:
  DirectDevice(const std::string& path, Durability durability);
  ~DirectDevice();
  DirectDevice(const DirectDevice&) = delete;
  DirectDevice& operator=(const DirectDevice&) = delete;

  const std::string& path() const { return path_; }
  Durability durability() const { return durability_; }
  const HeaderInfo& header() const { return header_; }
  bool closed() const { return fd_ < 0; }
  // The mapping; null after close.
  const std::shared_ptr<Mapping>& mapping() const { return mapping_; }

  void msync(uint64_t offset, uint64_t length);
  void close();

 private:
  void boot();
  // Unmaps, releases the lock and closes the file, without msync; never throws.
  void release();

  std::string path_;
  Durability durability_;
  int fd_ = -1;
  std::shared_ptr<Mapping> mapping_;
  HeaderInfo header_;
};

// Creates `path` as a device of sizeBytes with the sections laid out after the header.
HeaderInfo formatFile(const std::string& path, uint64_t sizeBytes,
                      const std::vector<SectionSpec>& sections, bool force);

// A random 64-bit device id (getrandom; never 0).
uint64_t randomDeviceId();

}  // namespace nvram
