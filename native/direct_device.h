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
//   - issueSync(offset, length) is the same msync split in two, so that it can run on another
//     thread (the addon's asynchronous fence): the issue validates the range and counts the
//     sync as in flight on the mapping; PageSync::run does the msync on any thread. Unmapping
//     (close, or the last owner of the mapping letting go) waits until no sync is in flight.
//   - close is idempotent; after it msync and issueSync throw NVRAM_CLOSED. It msyncs the whole
//     mapping once (MS_SYNC, in both durabilities), waits for every issued sync still in flight
//     on another thread, then unmaps and releases the lock whatever the
//     msync returned, and throws NVRAM_IO if the msync failed (a write-back error). A device
//     dropped without close keeps its mapping (and with it the lock) until the last
//     JavaScript view of the mapping is collected, and is never msynced.
// Errors: NVRAM_FILE_MISSING, NVRAM_FILE_EXISTS, NVRAM_TRUNCATED, NVRAM_SIZE_MISMATCH,
// NVRAM_BAD_MAGIC, NVRAM_BAD_VERSION, NVRAM_HEADER_CHECKSUM, NVRAM_BAD_LAYOUT, NVRAM_BAD_SIZE,
// NVRAM_OUT_OF_RANGE, NVRAM_CLOSED, NVRAM_LOCKED, NVRAM_IO (with the errno text).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
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
  // Waits until no sync is in flight, then unmaps (see syncIssued).
  void unmap();

  // An msync on another thread is in flight from its issue (on the thread that may unmap) until
  // it has run. Unmapping under it would make its msync fail with ENOMEM, or, once the address
  // range is reused by another mmap, write back somebody else's pages: so unmap waits.
  void syncIssued();
  void syncEnded();

 private:
  uint8_t* address_;
  uint64_t length_;
  std::mutex syncMutex_;
  std::condition_variable syncsEnded_;
  uint64_t syncsInFlight_ = 0;
};

// One msync(MS_SYNC) of a page range, issued on the JavaScript thread (DirectDevice::issueSync)
// and run on a worker thread. It holds a share of the mapping and counts as in flight on it from
// its issue until run returns, or until it is destroyed unrun (a worker that never ran must not
// leave close waiting for ever).
class PageSync {
 public:
  PageSync(std::shared_ptr<Mapping> mapping, uint64_t start, uint64_t length, std::string label);
  ~PageSync();
  PageSync(const PageSync&) = delete;
  PageSync& operator=(const PageSync&) = delete;

  uint64_t start() const { return start_; }
  uint64_t length() const { return length_; }
  // On any thread, once. Never throws: it keeps the errno for check, which builds the message
  // on the issuing thread (strerror is not thread-safe).
  void run() noexcept;
  // After run, on the issuing thread: NVRAM_IO as DirectDevice::msync throws it, if msync failed.
  void check() const;

 private:
  void end() noexcept;

  std::shared_ptr<Mapping> mapping_;
  uint64_t start_;
  uint64_t length_;
  std::string label_;
  uint8_t* base_ = nullptr;
  int error_ = 0;
  bool inFlight_ = true;
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
  // The msync of the pages covering [offset, offset+length), to run later on any thread; throws
  // now what msync throws for its arguments (NVRAM_CLOSED, NVRAM_OUT_OF_RANGE).
  std::unique_ptr<PageSync> issueSync(uint64_t offset, uint64_t length);
  void close();

 private:
  void boot();
  struct Pages {
    uint64_t start;
    uint64_t length;
  };
  // The whole pages covering [offset, offset+length), clipped to the mapping; checks first that
  // the device is open and the range inside it.
  Pages pagesCovering(uint64_t offset, uint64_t length) const;
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
