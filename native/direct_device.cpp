// direct_device.cpp -- see direct_device.h.
#include "direct_device.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "header.h"

namespace nvram {

namespace {

[[noreturn]] void failErrno(const std::string& label, const std::string& call, int error) {
  fail(Code::io, label, call + " failed: " + std::strerror(error));
}

// Closes a descriptor on every exit path unless released.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

void lockExclusive(int fd, const std::string& label) {
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int error = errno;
    if (error == EWOULDBLOCK) {
      fail(Code::locked, label, "device is open for writing elsewhere (advisory lock held)");
    }
    failErrno(label, "flock", error);
  }
}

uint64_t regularFileSize(int fd, const std::string& label) {
  struct stat st;
  if (::fstat(fd, &st) != 0) failErrno(label, "fstat", errno);
  if (!S_ISREG(st.st_mode)) fail(Code::io, label, "not a regular file");
  return static_cast<uint64_t>(st.st_size);
}

void readFully(int fd, uint8_t* out, uint64_t length, const std::string& label) {
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out + done, length - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) failErrno(label, "pread", errno);
    if (n == 0) fail(Code::truncated, label, "file ended while reading the header");
    done += static_cast<uint64_t>(n);
  }
}

void writeFully(int fd, const uint8_t* data, uint64_t length, const std::string& label) {
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pwrite(fd, data + done, length - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) failErrno(label, "pwrite", errno);
    done += static_cast<uint64_t>(n);
  }
}

uint64_t systemPageBytes() {
  long n = ::sysconf(_SC_PAGESIZE);
  return n > 0 ? static_cast<uint64_t>(n) : pageBytes;
}

// The directory entry of a new file is durable only once its directory is fsynced.
void syncParentDirectory(const std::string& path) {
  std::vector<char> copy(path.begin(), path.end());
  copy.push_back('\0');
  int dir = ::open(::dirname(copy.data()), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) failErrno(path, "open of the parent directory", errno);
  FileDescriptor guard(dir);
  if (::fsync(dir) != 0) failErrno(path, "fsync of the parent directory", errno);
}

// Allocates every block of the device now, so that no later store into the mapping can meet a
// full file system: a store into a hole of a sparse file that finds no free block raises
// SIGBUS, which kills the process instead of reporting an error. posix_fallocate also sets
// the file size, and returns the error number rather than setting errno.
void preallocate(int fd, uint64_t sizeBytes, const std::string& label) {
  int error = 0;
  do {
    error = ::posix_fallocate(fd, 0, static_cast<off_t>(sizeBytes));
  } while (error == EINTR);
  if (error != 0) {
    failErrno(label, "posix_fallocate of " + std::to_string(sizeBytes) + " bytes", error);
  }
}

}  // namespace

void Mapping::unmap() {
  std::unique_lock<std::mutex> lock(syncMutex_);
  syncsEnded_.wait(lock, [this] { return syncsInFlight_ == 0; });
  if (address_ != nullptr) {
    ::munmap(address_, length_);
    address_ = nullptr;
  }
}

void Mapping::syncIssued() {
  std::lock_guard<std::mutex> lock(syncMutex_);
  syncsInFlight_++;
}

void Mapping::syncEnded() {
  std::lock_guard<std::mutex> lock(syncMutex_);
  if (--syncsInFlight_ == 0) syncsEnded_.notify_all();
}

// The address is taken here, on the issuing thread, while the device is known to be open; the
// worker then reads nothing of the mapping but the pages it msyncs.
PageSync::PageSync(std::shared_ptr<Mapping> mapping, uint64_t start, uint64_t length,
                   std::string label)
    : mapping_(std::move(mapping)), start_(start), length_(length), label_(std::move(label)) {
  mapping_->syncIssued();
  base_ = mapping_->address() + start_;
}

PageSync::~PageSync() { end(); }

void PageSync::run() noexcept {
  if (!inFlight_) return;
  if (length_ > 0 && ::msync(base_, length_, MS_SYNC) != 0) error_ = errno;
  end();
}

void PageSync::check() const {
  verify(!inFlight_, "PageSync::check after run");
  if (error_ != 0) failErrno(label_, "msync", error_);
}

void PageSync::end() noexcept {
  if (!inFlight_) return;
  inFlight_ = false;
  mapping_->syncEnded();
}

uint64_t randomDeviceId() {
  uint64_t id = 0;
  while (id == 0) {
    ssize_t n = ::getrandom(&id, sizeof id, 0);
    if (n != static_cast<ssize_t>(sizeof id)) {
      if (n < 0 && errno != EINTR) failErrno("memory", "getrandom", errno);
      id = 0;
    }
  }
  return id;
}

DirectDevice::DirectDevice(const std::string& path, Durability durability)
    : path_(path), durability_(durability) {
  FileDescriptor fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) {
    int error = errno;
    if (error == ENOENT) fail(Code::fileMissing, path, "no such device file");
    failErrno(path, "open", error);
  }
  uint64_t fileBytes = regularFileSize(fd.get(), path);
  lockExclusive(fd.get(), path);
  if (fileBytes < headerBytes) {
    fail(Code::truncated, path,
         "file is " + std::to_string(fileBytes) + " bytes, shorter than the " +
             std::to_string(headerBytes) + "-byte header");
  }
  std::vector<uint8_t> page(headerBytes);
  readFully(fd.get(), page.data(), headerBytes, path);
  header_ = header::parse(page.data(), fileBytes, path);  // nothing written before this
  void* address = ::mmap(nullptr, fileBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (address == MAP_FAILED) failErrno(path, "mmap", errno);
  mapping_ = std::make_shared<Mapping>(static_cast<uint8_t*>(address), fileBytes);
  fd_ = fd.release();
  try {
    boot();
  } catch (...) {
    release();
    throw;
  }
}

// Without close (the JS object was collected) the mapping is left to its last owner, since
// a JS view may still reference it. The mapping holds the open file description, so the
// flock stays held until that view is gone too: nobody else can open a device that this
// process may still write into.
DirectDevice::~DirectDevice() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  mapping_.reset();
}

// The device's own two-slot boot counter update (docs/ARCHITECTURE.md), durable on return.
void DirectDevice::boot() {
  uint8_t* base = mapping_->address();
  header::BootSlotStore store = header::nextBoot(base, header_.deviceId);
  std::memcpy(base + store.offset, store.bytes, sizeof store.bytes);
  if (::msync(base, headerBytes, MS_SYNC) != 0) failErrno(path_, "msync of the header", errno);
  header_.bootCount = header::bootCount(base, header_.deviceId);
  verify(header_.bootCount == store.bootCount, "boot slot reads back");
}

DirectDevice::Pages DirectDevice::pagesCovering(uint64_t offset, uint64_t length) const {
  if (closed()) fail(Code::closed, path_, "device is closed");
  checkRange(offset, length, mapping_->length(), path_);
  uint64_t page = systemPageBytes();
  uint64_t start = offset / page * page;
  if (length == 0) return Pages{start, 0};
  uint64_t end = (offset + length + page - 1) / page * page;
  if (end > mapping_->length()) end = mapping_->length();
  return Pages{start, end - start};
}

void DirectDevice::msync(uint64_t offset, uint64_t length) {
  Pages pages = pagesCovering(offset, length);
  if (pages.length == 0) return;
  if (::msync(mapping_->address() + pages.start, pages.length, MS_SYNC) != 0) {
    failErrno(path_, "msync", errno);
  }
}

std::unique_ptr<PageSync> DirectDevice::issueSync(uint64_t offset, uint64_t length) {
  Pages pages = pagesCovering(offset, length);
  return std::make_unique<PageSync>(mapping_, pages.start, pages.length, path_);
}

// One msync of the whole mapping in either durability: in 'process' durability nothing else
// ever waits for write-back, so a write-back error (EIO, a disk gone) would otherwise go
// unseen. The device is released whatever msync says, so close stays idempotent and a failed
// close still leaves the device unmapped and unlocked. An issued sync still running on a worker
// thread is waited for by the unmap in release (Mapping::syncIssued says why).
void DirectDevice::close() {
  if (closed()) return;
  int error = 0;
  if (mapping_ && ::msync(mapping_->address(), mapping_->length(), MS_SYNC) != 0) error = errno;
  release();
  if (error != 0) failErrno(path_, "msync at close", error);
}

void DirectDevice::release() {
  if (closed()) return;
  if (mapping_) mapping_->unmap();
  mapping_.reset();
  ::close(fd_);  // releases the flock
  fd_ = -1;
}

HeaderInfo formatFile(const std::string& path, uint64_t sizeBytes,
                      const std::vector<SectionSpec>& specs, bool force) {
  // Every argument is validated before anything is created.
  std::vector<SectionInfo> sections = header::layoutSections(sizeBytes, specs, path);
  std::vector<uint8_t> page(headerBytes);
  HeaderInfo info = header::format(page.data(), sizeBytes, randomDeviceId(), sections);

  bool created = true;
  bool rewriting = false;  // the file is ours to remove on failure: created, or truncated
  int raw = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (raw < 0 && errno == EEXIST) {
    if (!force) fail(Code::fileExists, path, "file exists (format refuses to overwrite it)");
    created = false;
    raw = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  }
  if (raw < 0) failErrno(path, created ? "create" : "open", errno);
  FileDescriptor fd(raw);
  try {
    regularFileSize(fd.get(), path);
    lockExclusive(fd.get(), path);  // never reformat a device open elsewhere
    rewriting = created;
    if (!created) {
      if (::ftruncate(fd.get(), 0) != 0) failErrno(path, "ftruncate", errno);
      rewriting = true;  // what the file held is gone: a failure leaves no half device
      if (::fchmod(fd.get(), 0600) != 0) failErrno(path, "fchmod", errno);
    }
    preallocate(fd.get(), sizeBytes, path);
    writeFully(fd.get(), page.data(), headerBytes, path);
    if (::fsync(fd.get()) != 0) failErrno(path, "fsync", errno);
    syncParentDirectory(path);
  } catch (...) {
    if (rewriting) ::unlink(path.c_str());
    throw;
  }
  return info;
}

}  // namespace nvram
