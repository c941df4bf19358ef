// core_test.cpp -- self-test of the pure C++ core (no Node.js): CRC32C against known vectors
// (both the SSE4.2 and the table implementation), the header round trip and boot slots,
// the persistency model's hand-checked cases (SPEC 3), the device file's format and close, and
// the asynchronous msync (issued on one thread, run on another; close waits for it).
//   cmake -S . -B build-core && cmake --build build-core && ./build-core/nvram_core_test
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "crc32c.h"
#include "direct_device.h"
#include "header.h"
#include "traced_device.h"

namespace {

int failures = 0;

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                       \
    }                                                                   \
  } while (0)

template <typename F>
nvram::Code codeOf(F&& body) {
  try {
    body();
  } catch (const nvram::Error& e) {
    return e.code();
  }
  return nvram::Code::io;  // "did not throw" is reported as a mismatch by the caller
}

template <typename F>
bool throws(F&& body) {
  try {
    body();
  } catch (...) {
    return true;
  }
  return false;
}

using Crc = uint32_t (*)(const uint8_t*, size_t, uint32_t);

// RFC 3720 (iSCSI) appendix B.4 vectors plus the classic check value.
void testCrcVectors(const char* name, Crc crc) {
  const uint8_t* digits = reinterpret_cast<const uint8_t*>("123456789");
  uint8_t zeros[32] = {}, ones[32], up[32], down[32];
  for (int i = 0; i < 32; i++) {
    ones[i] = 0xFF;
    up[i] = static_cast<uint8_t>(i);
    down[i] = static_cast<uint8_t>(31 - i);
  }
  std::printf("crc32c %s\n", name);
  CHECK(crc(digits, 9, 0) == 0xE3069283u);
  CHECK(crc(zeros, 32, 0) == 0x8A9136AAu);
  CHECK(crc(ones, 32, 0) == 0x62A8AB43u);
  CHECK(crc(up, 32, 0) == 0x46DD794Eu);
  CHECK(crc(down, 32, 0) == 0x113FDB5Cu);
  CHECK(crc(digits, 0, 0) == 0);
  CHECK(crc(digits + 4, 5, crc(digits, 4, 0)) == 0xE3069283u);  // continuation
}

void testCrcAgree() {
  if (!nvram::crc32cHardwareAvailable()) {
    std::printf("crc32c: no SSE4.2 on this CPU, hardware path not tested\n");
    return;
  }
  testCrcVectors("sse4.2", nvram::crc32cHardware);
  std::vector<uint8_t> data(300);
  uint64_t x = 1;
  for (auto& b : data) b = static_cast<uint8_t>((x = x * 6364136223846793005ull + 1) >> 56);
  for (size_t start = 0; start < 9; start++) {
    for (size_t length = 0; start + length <= data.size(); length += 7) {
      CHECK(nvram::crc32cHardware(data.data() + start, length, 0x1234u) ==
            nvram::crc32cTable(data.data() + start, length, 0x1234u));
    }
  }
}

void testHeader() {
  std::printf("header\n");
  using namespace nvram;
  std::vector<uint8_t> image(65536);
  auto sections = header::layoutSections(65536, {{"events", 5000}, {"boot.pool", 4096}}, "memory");
  CHECK(sections.size() == 2 && sections[0].offset == 4096 && sections[0].length == 8192);
  CHECK(sections[1].offset == 12288 && sections[1].length == 4096);
  HeaderInfo info = header::format(image.data(), 65536, 0xABCDEF, sections);
  CHECK(info.bootCount == 0 && info.deviceId == 0xABCDEF);
  HeaderInfo again = header::parse(image.data(), 65536, "x");
  CHECK(again.sections.size() == 2 && again.sections[1].name == "boot.pool");
  // Boots alternate slots: B, A, B ...; a torn newest slot falls back to the other one.
  for (uint64_t boot = 1; boot <= 3; boot++) {
    header::BootSlotStore store = header::nextBoot(image.data(), info.deviceId);
    CHECK(store.bootCount == boot);
    CHECK(store.offset == header::bootSlotOffsets[boot % 2 == 1 ? 1 : 0]);
    std::vector<uint8_t> torn = image;
    std::memcpy(torn.data() + store.offset, store.bytes, 8);  // only the first word landed
    CHECK(header::bootCount(torn.data(), info.deviceId) == boot - 1);
    std::memcpy(image.data() + store.offset, store.bytes, sizeof store.bytes);
    CHECK(header::bootCount(image.data(), info.deviceId) == boot);
  }
  CHECK(codeOf([&] { header::parse(image.data(), 4000, "x"); }) == Code::truncated);
  CHECK(codeOf([&] { header::parse(image.data(), 69632, "x"); }) == Code::sizeMismatch);
  image[200] ^= 1;
  CHECK(codeOf([&] { header::parse(image.data(), 65536, "x"); }) == Code::headerChecksum);
  image[200] ^= 1;
  image[8] = 9;
  CHECK(codeOf([&] { header::parse(image.data(), 65536, "x"); }) == Code::badVersion);
  image[0] = 0;
  CHECK(codeOf([&] { header::parse(image.data(), 65536, "x"); }) == Code::badMagic);
  CHECK(codeOf([&] { header::layoutSections(65536, {{"A", 1}}, "x"); }) == Code::badLayout);
  CHECK(codeOf([&] { header::layoutSections(65536, {{"a", 1}, {"a", 1}}, "x"); }) == Code::badLayout);
  CHECK(codeOf([&] { header::layoutSections(8192, {{"a", 4097}}, "x"); }) == Code::badLayout);
  CHECK(codeOf([&] { header::layoutSections(8000, {}, "x"); }) == Code::badSize);
}

void testModel() {
  std::printf("persistency model\n");
  using nvram::Model;
  std::vector<uint8_t> zero(4096);
  nvram::TracedDevice device(zero.data(), zero.size(), false);
  uint8_t sixteen[16];
  std::memset(sixteen, 0xAB, sizeof sixteen);
  device.store(4, sixteen, 16);  // one instruction, words 0, 8 and 16: it may tear
  CHECK(device.nonDurableCount() == 3);
  CHECK(device.imageCount(Model::px86) == 4 && device.imageCount(Model::relaxed) == 8);
  CHECK(device.imageCount(Model::eadr) == 4);
  double second[] = {1};
  CHECK(!device.allows(Model::px86, second, 1));  // a later store of the line needs the earlier
  CHECK(device.allows(Model::relaxed, second, 1));
  CHECK(!device.allows(Model::eadr, second, 1));
  std::vector<uint8_t> out(4096);
  device.buildImage(second, 1, out.data(), out.size());
  CHECK(out[3] == 0 && out[4] == 0 && out[8] == 0xAB && out[15] == 0xAB && out[16] == 0);
  device.flush(0, 64);  // an un-fenced flush is not durable
  device.buildDurableImage(out.data(), out.size());
  CHECK(out[8] == 0);
  device.store(64, sixteen, 8);  // another line: px86 lines are independent
  CHECK(device.imageCount(Model::px86) == 8);
  device.fence();
  CHECK(device.nonDurableCount() == 1);
  device.buildDurableImage(out.data(), out.size());
  CHECK(out[8] == 0xAB && out[64] == 0);
  device.setPowerCut(5);
  device.store(128, sixteen, 1);
  uint64_t cutAt = 0;
  try {
    device.fence();
  } catch (const nvram::PowerCut& cut) {
    cutAt = cut.instruction();
  }
  CHECK(cutAt == 5 && device.poweredOff() && device.instructionCount() == 5);
  CHECK(codeOf([&] { device.flush(0, 8); }) == nvram::Code::powerCut);
}

// The asynchronous fence: an issue covers the stores flushing then; its completion makes
// exactly those durable. Stores 0xA1.. fill one word each; lines 0 and 1 are offsets 0 and 64.
void testAsyncFence() {
  std::printf("asynchronous fence\n");
  using nvram::Code;
  using nvram::Model;
  std::vector<uint8_t> zero(4096), out(4096);
  uint8_t a[8], b[8];
  std::memset(a, 0xA1, sizeof a);
  std::memset(b, 0xB2, sizeof b);

  nvram::TracedDevice device(zero.data(), zero.size(), true);
  device.store(0, a, 8);  // 0: A
  device.flush(0, 64);    // 1
  uint64_t issue = device.fenceIssue();  // 2: covers A
  CHECK(issue == 2);
  device.store(8, b, 8);  // 3: B, same line, after the issue
  device.flush(0, 64);    // 4: B flushing too, not covered
  // A cut here: nothing is durable yet; px86 keeps a prefix of line 0 (none, A, A+B).
  CHECK(device.nonDurableCount() == 2);
  CHECK(device.imageCount(Model::px86) == 3 && device.imageCount(Model::relaxed) == 4);
  CHECK(device.imageCount(Model::eadr) == 3);
  double onlyB[] = {1}, onlyA[] = {0};
  CHECK(!device.allows(Model::px86, onlyB, 1) && device.allows(Model::px86, onlyA, 1));
  device.buildDurableImage(out.data(), out.size());
  CHECK(out[0] == 0 && out[8] == 0);
  CHECK(codeOf([&] { device.fenceComplete(3); }) == Code::badArgument);  // a store, no issue
  CHECK(device.instructionCount() == 5);  // an argument error is not an instruction
  device.fenceComplete(issue);  // 5: A durable, B still flushing
  device.buildDurableImage(out.data(), out.size());
  CHECK(out[0] == 0xA1 && out[8] == 0);
  CHECK(device.nonDurableCount() == 1 && device.imageCount(Model::px86) == 2);
  CHECK(device.imageCount(Model::relaxed) == 2 && device.imageCount(Model::eadr) == 2);
  CHECK(codeOf([&] { device.fenceComplete(issue); }) == Code::badArgument);  // completed once
  CHECK(device.instructionCount() == 6);

  // The same trace replayed, whole and in two parts split between issue and completion.
  const nvram::Trace& trace = device.trace();
  size_t n = trace.records.size();
  CHECK(n == 6 && trace.records[2].kind == 3 && trace.records[5].kind == 4);
  CHECK(trace.records[5].offset == 2);
  std::vector<uint8_t> kinds(n);
  std::vector<double> offsets(n), lengths(n), dataOffsets(n);
  for (size_t i = 0; i < n; i++) {
    kinds[i] = trace.records[i].kind;
    offsets[i] = static_cast<double>(trace.records[i].offset);
    lengths[i] = static_cast<double>(trace.records[i].length);
    dataOffsets[i] = static_cast<double>(trace.records[i].dataOffset);
  }
  nvram::TraceView view{kinds.data(), offsets.data(), lengths.data(), dataOffsets.data(),
                        n,            trace.data.data(), trace.data.size()};
  std::vector<uint8_t> replayedImage(4096);
  for (uint64_t split : {uint64_t(0), uint64_t(3)}) {
    nvram::TracedDevice replayed(zero.data(), zero.size(), false);
    replayed.applyTrace(view, 0, split);
    if (split == 3) CHECK(replayed.imageCount(Model::px86) == 2);  // A flushing, not durable
    replayed.applyTrace(view, split, n);
    replayed.buildDurableImage(replayedImage.data(), replayedImage.size());
    CHECK(replayedImage == out && replayed.nonDurableCount() == 1);
  }
  {
    nvram::TracedDevice replayed(zero.data(), zero.size(), false);
    CHECK(codeOf([&] { replayed.applyTrace(view, 3, n); }) == Code::badArgument);  // no issue ran
    CHECK(replayed.instructionCount() == 0);
    offsets[5] = 3;  // a completion naming a store
    CHECK(codeOf([&] { replayed.applyTrace(view, 0, n); }) == Code::badArgument);
    CHECK(replayed.instructionCount() == 0);
  }

  // eadr: the cover is every store issued before the issue, flushed or not; px86 and
  // relaxed retire only the flushed ones.
  nvram::TracedDevice other(zero.data(), zero.size(), false);
  other.store(0, a, 8);     // 0: X, line 0, never flushed
  other.store(64, a, 8);    // 1: Y, line 1
  other.flush(64, 64);      // 2
  uint64_t second = other.fenceIssue();  // 3
  other.store(8, b, 8);     // 4: Z, line 0
  CHECK(other.imageCount(Model::px86) == 6 && other.imageCount(Model::relaxed) == 8);
  CHECK(other.imageCount(Model::eadr) == 4 && other.fencedCount() == 0);
  other.setPowerCut(5);  // the completion does not run: the images stay as they are
  CHECK(codeOf([&] { other.fenceComplete(second); }) == Code::powerCut);
  CHECK(other.imageCount(Model::px86) == 6 && other.imageCount(Model::eadr) == 4);

  nvram::TracedDevice third(zero.data(), zero.size(), false);
  third.store(0, a, 8);
  third.store(64, a, 8);
  third.flush(64, 64);
  second = third.fenceIssue();
  third.store(8, b, 8);
  third.fenceComplete(second);  // Y durable; under eadr X is fenced, Z not
  CHECK(third.nonDurableCount() == 2 && third.imageCount(Model::px86) == 3);
  CHECK(third.imageCount(Model::relaxed) == 4);
  CHECK(third.fencedCount() == 1 && third.imageCount(Model::eadr) == 2);
  double none[] = {0}, x[] = {0}, xz[] = {0, 2};
  CHECK(!third.allows(Model::eadr, none, 0) && third.allows(Model::eadr, x, 1));
  CHECK(third.allows(Model::eadr, xz, 2) && third.allows(Model::px86, none, 0));

  // A fence after the issue covers it all; the later completion changes nothing. So does
  // the completion of an earlier issue after a later one completed.
  nvram::TracedDevice fourth(zero.data(), zero.size(), false);
  fourth.store(0, a, 8);
  fourth.flush(0, 8);
  uint64_t early = fourth.fenceIssue();
  fourth.store(64, b, 8);
  fourth.flush(64, 8);
  uint64_t late = fourth.fenceIssue();
  fourth.store(128, b, 8);
  fourth.flush(128, 8);
  fourth.fence();
  CHECK(fourth.nonDurableCount() == 0);
  fourth.store(192, a, 8);  // flushed after both issues: neither covers it
  fourth.flush(192, 8);
  fourth.fenceComplete(late);
  fourth.fenceComplete(early);
  CHECK(fourth.nonDurableCount() == 1 && fourth.imageCount(Model::px86) == 2);
  CHECK(fourth.imageCount(Model::eadr) == 2);
  fourth.buildDurableImage(out.data(), out.size());
  CHECK(out[0] == 0xA1 && out[64] == 0xB2 && out[128] == 0xB2 && out[192] == 0);

  nvram::TracedDevice fifth(zero.data(), zero.size(), false);
  fifth.store(0, a, 8);
  fifth.flush(0, 8);
  early = fifth.fenceIssue();
  fifth.store(64, b, 8);
  fifth.flush(64, 8);
  late = fifth.fenceIssue();
  fifth.store(128, b, 8);
  fifth.flush(128, 8);
  fifth.fenceComplete(late);  // covers both earlier stores, not the third
  CHECK(fifth.nonDurableCount() == 1);
  fifth.fenceComplete(early);
  CHECK(fifth.nonDurableCount() == 1 && fifth.imageCount(Model::eadr) == 2);
}

bool fileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// A file-size limit makes posix_fallocate fail as a full file system would, without a mount.
template <typename F>
nvram::Code codeWithFileSizeLimit(rlim_t limitBytes, F&& body) {
  struct rlimit saved;
  ::getrlimit(RLIMIT_FSIZE, &saved);
  struct rlimit limited = saved;
  limited.rlim_cur = limitBytes;
  auto previous = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a killed process
  ::setrlimit(RLIMIT_FSIZE, &limited);
  nvram::Code code = codeOf(body);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous);
  return code;
}

void testDirectDevice() {
  std::printf("direct device\n");
  using namespace nvram;
  char folder[] = "/tmp/nvram-core-test-XXXXXX";
  if (::mkdtemp(folder) == nullptr) {
    CHECK(!"mkdtemp");
    return;
  }
  const std::string path = std::string(folder) + "/device.nvram";
  const uint64_t sizeBytes = 1 << 20;
  formatFile(path, sizeBytes, {{"events", 8192}}, false);
  struct stat st;
  CHECK(::stat(path.c_str(), &st) == 0 && uint64_t(st.st_size) == sizeBytes);
  CHECK(uint64_t(st.st_blocks) * 512 >= sizeBytes);  // preallocated: no hole to fault in

  {
    DirectDevice device(path, Durability::process);
    CHECK(device.header().bootCount == 1);
    device.mapping()->address()[headerBytes] = 0x5A;
    device.close();  // msyncs the mapping; a second close does nothing
    CHECK(device.closed() && device.mapping() == nullptr);
    device.close();
    CHECK(codeOf([&] { device.msync(headerBytes, 8); }) == Code::closed);
  }

  // A forced format that cannot preallocate leaves no file, not the truncated old one.
  CHECK(codeWithFileSizeLimit(sizeBytes / 2, [&] {
          formatFile(path, sizeBytes, {{"events", 8192}}, true);
        }) == Code::io);
  CHECK(!fileExists(path));
  CHECK(codeWithFileSizeLimit(sizeBytes / 2, [&] {
          formatFile(path, sizeBytes, {{"events", 8192}}, false);
        }) == Code::io);
  CHECK(!fileExists(path));
  ::rmdir(folder);
}

// An issued sync runs on another thread; close, meanwhile, waits for it rather than unmapping
// the pages under its msync (which would then fail with ENOMEM).
void testIssuedSync() {
  std::printf("issued sync\n");
  using namespace nvram;
  char folder[] = "/tmp/nvram-core-test-XXXXXX";
  if (::mkdtemp(folder) == nullptr) {
    CHECK(!"mkdtemp");
    return;
  }
  const std::string path = std::string(folder) + "/device.nvram";
  const uint64_t sizeBytes = 1 << 20;
  formatFile(path, sizeBytes, {{"events", 8192}}, false);

  {
    DirectDevice device(path, Durability::power);
    std::unique_ptr<PageSync> sync = device.issueSync(headerBytes + 100, 5000);
    CHECK(sync->start() == headerBytes && sync->length() == 2 * pageBytes);
    std::thread worker([&] { sync->run(); });
    worker.join();
    CHECK(!throws([&] { sync->check(); }));
    CHECK(device.issueSync(headerBytes, 0)->length() == 0);
    CHECK(codeOf([&] { device.issueSync(sizeBytes - 8, 16); }) == Code::outOfRange);
    device.close();
    CHECK(codeOf([&] { device.issueSync(headerBytes, 8); }) == Code::closed);
  }

  {
    DirectDevice device(path, Durability::power);
    std::unique_ptr<PageSync> sync = device.issueSync(headerBytes, 8);
    auto start = std::chrono::steady_clock::now();
    std::thread worker([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      sync->run();
    });
    device.close();  // returns only once the worker's msync has run
    auto waited = std::chrono::steady_clock::now() - start;
    worker.join();
    CHECK(waited >= std::chrono::milliseconds(150));
    CHECK(!throws([&] { sync->check(); }));  // it ran on a range still mapped
  }

  {
    DirectDevice device(path, Durability::power);
    device.issueSync(headerBytes, 8).reset();  // dropped unrun: no longer in flight
    device.close();                            // so this does not wait for ever
    CHECK(device.closed());
  }

  {
    // A page unmapped behind the device's back makes msync fail (ENOMEM): the error is kept by
    // run and thrown by check as the synchronous msync throws it.
    DirectDevice device(path, Durability::power);
    CHECK(::munmap(device.mapping()->address() + 2 * pageBytes, pageBytes) == 0);
    std::unique_ptr<PageSync> sync = device.issueSync(2 * pageBytes, 8);
    std::thread worker([&] { sync->run(); });
    worker.join();
    std::string message;
    try {
      sync->check();
    } catch (const Error& e) {
      CHECK(e.code() == Code::io);
      message = e.what();
    }
    CHECK(message == "nvram: " + path + ": msync failed: " + std::strerror(ENOMEM));
    CHECK(codeOf([&] { device.msync(2 * pageBytes, 8); }) == Code::io);
    CHECK(codeOf([&] { device.close(); }) == Code::io);  // its msync meets the hole too
    CHECK(device.closed());
  }

  ::unlink(path.c_str());
  ::rmdir(folder);
}

}  // namespace

int main() {
  testCrcVectors("table", nvram::crc32cTable);
  testCrcAgree();
  testHeader();
  testModel();
  testAsyncFence();
  testDirectDevice();
  testIssuedSync();
  if (failures != 0) {
    std::printf("%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("all core checks passed\n");
  return 0;
}
