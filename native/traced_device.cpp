// traced_device.cpp -- see traced_device.h (SPEC 3).
#include "traced_device.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include <sys/mman.h>

#include "header.h"

namespace nvram {

namespace {

const std::string label = "memory";
constexpr uint64_t flipBitsMax = uint64_t(1) << 20;
constexpr size_t compactionDeadMin = 4096;

// splitmix64: a tiny, well-mixed, seedable generator; deterministic across platforms.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Lemire's multiply-shift: uniform enough (bias < bound / 2^64) and no division.
  uint64_t below(uint64_t bound) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }
};


[[noreturn]] void failRange(uint64_t offset, uint64_t length, uint64_t size) {
  checkRange(offset, length, size, label);
  throw AssertionFailed("nvram: checkRange accepted a range failRange rejected");
}

inline void checkRangeFast(uint64_t offset, uint64_t length, uint64_t size) {
  if (offset > size || length > size - offset) failRange(offset, length, size);
}

}  // namespace

// Image memory comes from mmap (page-aligned, so words and lines are aligned in memory
// too) and goes back to a small per-thread cache of released blocks. Not from the malloc
// heap: there, freed images get split by the small allocations that outlive them (Node
// runs finalizers late), and a loop creating devices grows without bound although each
// one is freed. The cache keeps creating a device cheap: its pages are already faulted in.
namespace {

constexpr uint64_t blockCacheBytesMax = uint64_t(64) << 20;  // per thread

struct BlockCache {
  std::vector<std::pair<uint64_t, uint8_t*>> blocks;  // (size, memory), newest last
  uint64_t bytes = 0;
  ~BlockCache() {
    for (auto& block : blocks) ::munmap(block.second, block.first);
  }
};

thread_local BlockCache blockCache;

}  // namespace

ImageMemory::ImageMemory(uint64_t sizeBytes) : data_(nullptr), sizeBytes_(sizeBytes) {
  auto& blocks = blockCache.blocks;
  for (size_t i = blocks.size(); i-- > 0;) {
    if (blocks[i].first != sizeBytes) continue;
    data_ = blocks[i].second;
    blocks.erase(blocks.begin() + static_cast<std::ptrdiff_t>(i));
    blockCache.bytes -= sizeBytes;
    return;
  }
  void* memory = ::mmap(nullptr, sizeBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::bad_alloc();
  data_ = static_cast<uint8_t*>(memory);
}

void ImageMemory::release() {
  if (data_ == nullptr) return;
  if (blockCache.bytes + sizeBytes_ <= blockCacheBytesMax) {
    blockCache.blocks.emplace_back(sizeBytes_, data_);
    blockCache.bytes += sizeBytes_;
  } else {
    ::munmap(data_, sizeBytes_);
  }
  data_ = nullptr;
}

TracedDevice::TracedDevice(const uint8_t* image, uint64_t sizeBytes, bool record)
    : size_(sizeBytes), record_(record) {
  if (sizeBytes == 0 || sizeBytes % lineBytes != 0 || sizeBytes > deviceBytesMax) {
    fail(Code::badSize, label,
         "traced device size " + std::to_string(sizeBytes) +
             " is not a positive multiple of 64 up to 2^40 bytes");
  }
  volatile_ = std::make_shared<ImageMemory>(sizeBytes);
  durable_ = std::make_shared<ImageMemory>(sizeBytes);
  volatileData_ = volatile_->data();
  durableData_ = durable_->data();
  std::memcpy(volatileData_, image, sizeBytes);
  std::memcpy(durableData_, image, sizeBytes);
  lines_.resize(sizeBytes / lineBytes);
}

// ---- instructions ----

void TracedDevice::checkOpen() const {
  if (closed()) fail(Code::closed, label, "traced device is closed");
}

void TracedDevice::close() {
  if (closed()) return;
  volatile_->release();
  durable_->release();
  volatileData_ = nullptr;
  durableData_ = nullptr;
  // Release the indexes too (swap with empty: clear() keeps the capacity).
  std::vector<WordStore>().swap(entries_);
  std::vector<Line>().swap(lines_);
  std::vector<uint32_t>().swap(dirtyLines_);
  std::vector<uint32_t>().swap(flushing_);
  std::vector<IssuedFence>().swap(issued_);
  std::vector<uint32_t>().swap(sortedLines_);
  std::vector<uint32_t>().swap(scratchEntries_);
  std::vector<double>().swap(scratchIds_);
  trace_ = Trace{};
  alive_ = 0;
  fenced_ = 0;
  sortedLinesValid_ = false;
}

void TracedDevice::beginInstruction() {
  checkOpen();
  if (poweredOff_ || instructions_ == cutAt_) {
    poweredOff_ = true;
    throw PowerCut("nvram: memory: power cut at instruction " + std::to_string(instructions_),
                   instructions_);
  }
}

void TracedDevice::setPowerCut(double k) {
  checkOpen();
  if (k == -1) {
    cutAt_ = UINT64_MAX;
    return;
  }
  uint64_t at = checkIndex(k, "power cut instruction", label);
  if (at < instructions_) {
    fail(Code::badArgument, label,
         "power cut instruction " + std::to_string(at) + " already ran (next is " +
             std::to_string(instructions_) + ")");
  }
  cutAt_ = at;
}

void TracedDevice::addWordStore(uint64_t offset, uint64_t value) {
  uint32_t index = static_cast<uint32_t>(entries_.size());
  verify(entries_.size() < none, "fewer than 2^32 word-stores outstanding");
  entries_.push_back(WordStore{nextId_++, instructions_, offset, value, none, StoreState::pending, 0});
  uint32_t lineIndex = static_cast<uint32_t>(offset / lineBytes);
  Line& line = lines_[lineIndex];
  if (line.tail != none) {
    entries_[line.tail].nextInLine = index;
  } else {
    line.head = index;
  }
  line.tail = index;
  if (line.firstPending == none) line.firstPending = index;
  if (line.count++ == 0) {
    line.dirtyIndex = static_cast<uint32_t>(dirtyLines_.size());
    dirtyLines_.push_back(lineIndex);
    sortedLinesValid_ = false;
  }
  alive_++;
}

void TracedDevice::store(uint64_t offset, const uint8_t* bytes, uint64_t length) {
  checkRangeFast(offset, length, size_);
  beginInstruction();
  if (record_) {
    trace_.records.push_back(TraceRecord{offset, length, trace_.data.size(), 0});
    if (length > 0) trace_.data.insert(trace_.data.end(), bytes, bytes + length);
  }
  uint8_t* image = volatileData_;
  if (length > 0) {
    std::memmove(image + offset, bytes, length);  // `bytes` may be a view of this very image
    // One instruction writing every word it touches, in ascending address order (SPEC 3).
    uint64_t last = (offset + length - 1) / wordBytes;
    for (uint64_t word = offset / wordBytes; word <= last; word++) {
      addWordStore(word * wordBytes, loadU64(image + word * wordBytes));
    }
  }
  instructions_++;
}

void TracedDevice::flushLine(uint32_t lineIndex) {
  Line& line = lines_[lineIndex];
  for (uint32_t i = line.firstPending; i != none; i = entries_[i].nextInLine) {
    verify(entries_[i].state == StoreState::pending, "stores after firstPending are pending");
    entries_[i].state = StoreState::flushing;
    flushing_.push_back(i);
  }
  line.firstPending = none;
}

void TracedDevice::flush(uint64_t offset, uint64_t length) {
  checkRangeFast(offset, length, size_);
  beginInstruction();
  if (record_) trace_.records.push_back(TraceRecord{offset, length, 0, 1});
  if (length > 0) {
    uint64_t first = offset / lineBytes;
    uint64_t last = (offset + length - 1) / lineBytes;
    if (last - first + 1 > dirtyLines_.size()) {
      // Fewer lines hold stores than the range spans: visit those (flushLine keeps the set).
      for (uint32_t line : dirtyLines_) {
        if (line >= first && line <= last && lines_[line].firstPending != none) flushLine(line);
      }
    } else {
      for (uint64_t line = first; line <= last; line++) {
        if (lines_[line].firstPending != none) flushLine(static_cast<uint32_t>(line));
      }
    }
  }
  instructions_++;
}

// A flushing store becomes durable; it is always the oldest store of its line.
void TracedDevice::retire(uint32_t index) {
  WordStore& entry = entries_[index];
  verify(entry.state == StoreState::flushing, "only flushing stores retire");
  storeU64(durableData_ + entry.offset, entry.value);
  uint32_t lineIndex = static_cast<uint32_t>(entry.offset / lineBytes);
  Line& line = lines_[lineIndex];
  verify(line.head == index && line.firstPending != index, "flushing stores lead their line");
  line.head = entry.nextInLine;
  if (line.head == none) line.tail = none;
  entry.state = StoreState::durable;
  alive_--;
  if (--line.count == 0) {
    verify(line.head == none && line.firstPending == none, "an empty line has no stores");
    uint32_t moved = dirtyLines_.back();
    dirtyLines_[line.dirtyIndex] = moved;
    lines_[moved].dirtyIndex = line.dirtyIndex;
    dirtyLines_.pop_back();
    line.dirtyIndex = none;
    sortedLinesValid_ = false;
  }
}

// Retires the first `count` flushing stores (the earliest flushed) and forgets them.
void TracedDevice::retireFlushing(size_t count) {
  // Per word, flushing_ holds its stores in program order, so the last one wins.
  for (size_t j = 0; j < count; j++) retire(flushing_[j]);
  flushing_.erase(flushing_.begin(), flushing_.begin() + static_cast<std::ptrdiff_t>(count));
  flushingBase_ += count;
  if (alive_ == 0) {
    entries_.clear();
  } else if (entries_.size() - alive_ > alive_ && entries_.size() - alive_ >= compactionDeadMin) {
    compact();
  }
}

void TracedDevice::fence() {
  beginInstruction();
  if (record_) trace_.records.push_back(TraceRecord{0, 0, 0, 2});
  retireFlushing(flushing_.size());
  fencePoint_ = instructions_;
  fenced_ = alive_;  // eadr: every store still non-durable was issued before this fence
  instructions_++;
}

uint64_t TracedDevice::fenceIssue() {
  beginInstruction();
  if (record_) trace_.records.push_back(TraceRecord{0, 0, 0, 3});
  issued_.push_back(IssuedFence{instructions_, flushingBase_ + flushing_.size()});
  return instructions_++;
}

void TracedDevice::fenceComplete(uint64_t issue) {
  checkOpen();
  auto found = std::find_if(issued_.begin(), issued_.end(),
                            [issue](const IssuedFence& f) { return f.instruction == issue; });
  if (found == issued_.end()) {
    fail(Code::badArgument, label,
         "no asynchronous fence issued at instruction " + std::to_string(issue) + " is pending");
  }
  beginInstruction();
  IssuedFence fence = *found;
  issued_.erase(found);
  if (record_) trace_.records.push_back(TraceRecord{issue, 0, 0, 4});
  if (fence.instruction > fencePoint_) {  // else a fence point since covered it already
    verify(fence.flushed >= flushingBase_ && fence.flushed - flushingBase_ <= flushing_.size(),
           "an issue's cover is a prefix of the flushing stores");
    retireFlushing(fence.flushed - flushingBase_);
    fencePoint_ = fence.instruction;
    fenced_ = 0;  // eadr: the non-durable stores issued before the issue
    for (const WordStore& entry : entries_) {
      if (entry.instruction >= fencePoint_) break;
      if (entry.state != StoreState::durable) fenced_++;
    }
  }
  instructions_++;
}

// Drops retired entries, renumbering every index that points into entries_.
void TracedDevice::compact() {
  std::vector<uint32_t>& remap = scratchEntries_;
  remap.assign(entries_.size(), none);
  size_t kept = 0;
  for (size_t i = 0; i < entries_.size(); i++) {
    if (entries_[i].state == StoreState::durable) continue;
    remap[i] = static_cast<uint32_t>(kept);
    entries_[kept++] = entries_[i];
  }
  verify(kept == alive_, "compaction keeps exactly the non-durable stores");
  entries_.resize(kept);
  auto map = [&remap](uint32_t index) { return index == none ? none : remap[index]; };
  for (WordStore& entry : entries_) entry.nextInLine = map(entry.nextInLine);
  for (uint32_t lineIndex : dirtyLines_) {
    Line& line = lines_[lineIndex];
    line.head = map(line.head);
    line.tail = map(line.tail);
    line.firstPending = map(line.firstPending);
  }
  for (uint32_t& index : flushing_) index = map(index);
}

// ---- crash images ----

double TracedDevice::imageCount(Model model) const {
  checkOpen();
  switch (model) {
    case Model::px86: {
      double count = 1;
      for (uint32_t line : dirtyLines_) count *= static_cast<double>(lines_[line].count) + 1;
      return count;
    }
    case Model::relaxed:
      return std::ldexp(1.0, static_cast<int>(std::min<uint64_t>(alive_, 2000)));
    case Model::eadr:
      return static_cast<double>(alive_ - fenced_) + 1;
  }
  return 1;
}

void TracedDevice::nonDurableStores(double* ids, double* instructions, double* offsets,
                                    uint8_t* states) const {
  checkOpen();
  uint64_t n = 0;
  for (const WordStore& entry : entries_) {
    if (entry.state == StoreState::durable) continue;
    ids[n] = static_cast<double>(entry.id);
    instructions[n] = static_cast<double>(entry.instruction);
    offsets[n] = static_cast<double>(entry.offset);
    states[n] = static_cast<uint8_t>(entry.state);
    n++;
  }
  verify(n == alive_, "non-durable count matches the list");
}

// Cached until the set of lines with stores changes (crash images are built many times
// from one state).
const std::vector<uint32_t>& TracedDevice::sortedDirtyLines() {
  if (!sortedLinesValid_) {
    sortedLines_.assign(dirtyLines_.begin(), dirtyLines_.end());
    std::sort(sortedLines_.begin(), sortedLines_.end());
    sortedLinesValid_ = true;
  }
  return sortedLines_;
}

// scratchEntries_ (entry indices) -> ids in program order.
const std::vector<double>& TracedDevice::survivorIds() {
  std::sort(scratchEntries_.begin(), scratchEntries_.end());
  scratchIds_.clear();
  for (uint32_t index : scratchEntries_) scratchIds_.push_back(static_cast<double>(entries_[index].id));
  return scratchIds_;
}

const std::vector<double>& TracedDevice::survivorsByIndex(Model model, double indexValue) {
  checkOpen();
  uint64_t index = checkIndex(indexValue, "image index", label);
  double count = imageCount(model);
  if (!(static_cast<double>(index) < count)) {
    fail(Code::outOfRange, label,
         "image index " + std::to_string(index) + " is not below the image count " +
             formatNumber(count));
  }
  scratchEntries_.clear();
  uint64_t rest = index;
  if (model == Model::px86) {
    for (uint32_t lineIndex : sortedDirtyLines()) {  // lowest address = least significant
      uint64_t radix = uint64_t(lines_[lineIndex].count) + 1;
      uint64_t digit = rest % radix;
      rest /= radix;
      uint32_t entry = lines_[lineIndex].head;
      for (uint64_t d = 0; d < digit; d++, entry = entries_[entry].nextInLine) {
        scratchEntries_.push_back(entry);
      }
    }
  } else {
    uint64_t position = 0;
    for (uint32_t i = 0; i < entries_.size(); i++) {
      if (entries_[i].state == StoreState::durable) continue;
      bool keep = model == Model::eadr ? position < fenced_ + index
                                       : (position < 64 && ((index >> position) & 1u) != 0);
      if (keep) scratchEntries_.push_back(i);
      position++;
    }
  }
  return survivorIds();
}

const std::vector<double>& TracedDevice::survivorsBySeed(Model model, double seedValue) {
  checkOpen();
  SplitMix64 random{checkIndex(seedValue, "seed", label)};
  scratchEntries_.clear();
  if (model == Model::px86) {
    for (uint32_t lineIndex : sortedDirtyLines()) {
      uint64_t digit = random.below(uint64_t(lines_[lineIndex].count) + 1);
      uint32_t entry = lines_[lineIndex].head;
      for (uint64_t d = 0; d < digit; d++, entry = entries_[entry].nextInLine) {
        scratchEntries_.push_back(entry);
      }
    }
  } else {
    uint64_t prefix = model == Model::eadr ? fenced_ + random.below(alive_ - fenced_ + 1) : 0;
    uint64_t position = 0;
    for (uint32_t i = 0; i < entries_.size(); i++) {
      if (entries_[i].state == StoreState::durable) continue;
      bool keep = model == Model::eadr ? position < prefix : (random.next() >> 63) != 0;
      if (keep) scratchEntries_.push_back(i);
      position++;
    }
  }
  return survivorIds();
}

// The entry holding word-store `id`, or none. entries_ is sorted by id; until the first
// compaction since it was last emptied its ids are also consecutive.
uint32_t TracedDevice::findEntry(uint64_t id) const {
  if (entries_.empty() || id < entries_.front().id) return none;
  if (entries_.back().id - entries_.front().id + 1 == entries_.size()) {
    uint64_t index = id - entries_.front().id;
    return index < entries_.size() ? static_cast<uint32_t>(index) : none;
  }
  auto found = std::lower_bound(entries_.begin(), entries_.end(), id,
                                [](const WordStore& e, uint64_t v) { return e.id < v; });
  if (found == entries_.end() || found->id != id) return none;
  return static_cast<uint32_t>(found - entries_.begin());
}

// ids -> scratchEntries_ (sorted entry indices). Malformed ids always throw; unknown or
// duplicate ids throw if strict, else return false.
bool TracedDevice::resolve(const double* ids, uint64_t count, bool strict) {
  scratchEntries_.clear();
  for (uint64_t i = 0; i < count; i++) {
    uint64_t id = checkIndex(ids[i], "word-store id", label);
    uint32_t index = findEntry(id);
    if (index == none || entries_[index].state == StoreState::durable) {
      if (!strict) return false;
      fail(Code::badArgument, label,
           "word-store id " + std::to_string(id) + " is not a non-durable store");
    }
    scratchEntries_.push_back(index);
  }
  if (!std::is_sorted(scratchEntries_.begin(), scratchEntries_.end())) {
    std::sort(scratchEntries_.begin(), scratchEntries_.end());
  }
  if (std::adjacent_find(scratchEntries_.begin(), scratchEntries_.end()) != scratchEntries_.end()) {
    if (!strict) return false;
    fail(Code::badArgument, label, "word-store ids contain a duplicate");
  }
  return true;
}

bool TracedDevice::allows(Model model, const double* ids, uint64_t count) {
  checkOpen();
  if (!resolve(ids, count, false)) return false;
  if (model == Model::relaxed) return true;
  if (model == Model::eadr) {
    if (count < fenced_) return false;  // every store before the last fence survives
    uint64_t position = 0;  // survivors must be exactly the first `count` in program order
    for (uint32_t i = 0; i < entries_.size() && position < count; i++) {
      if (entries_[i].state == StoreState::durable) continue;
      if (scratchEntries_[position] != i) return false;
      position++;
    }
    return true;
  }
  for (uint32_t index : scratchEntries_) entries_[index].mark = 1;
  bool allowed = true;  // px86: per line, no survivor after a non-survivor
  for (uint32_t lineIndex : dirtyLines_) {
    bool gap = false;
    for (uint32_t i = lines_[lineIndex].head; i != none; i = entries_[i].nextInLine) {
      if (entries_[i].mark == 0) gap = true;
      else if (gap) allowed = false;
    }
  }
  for (uint32_t index : scratchEntries_) entries_[index].mark = 0;
  return allowed;
}

void TracedDevice::checkImageBytes(uint64_t outBytes) const {
  if (outBytes != size_) {
    fail(Code::badArgument, label,
         "output image is " + std::to_string(outBytes) + " bytes, the device is " +
             std::to_string(size_) + " bytes");
  }
}

void TracedDevice::buildImage(const double* ids, uint64_t count, uint8_t* out, uint64_t outBytes) {
  checkOpen();
  checkImageBytes(outBytes);
  resolve(ids, count, true);
  std::memcpy(out, durableData_, size_);
  // Program order: a later store to the same word overwrites an earlier one.
  for (uint32_t index : scratchEntries_) storeU64(out + entries_[index].offset, entries_[index].value);
}

void TracedDevice::buildDurableImage(uint8_t* out, uint64_t outBytes) const {
  checkOpen();
  checkImageBytes(outBytes);
  std::memcpy(out, durableData_, size_);
}

// ---- media faults and boot (not instructions) ----

void TracedDevice::flipBits(uint64_t offset, uint64_t length, uint64_t count, double seedValue) {
  checkOpen();
  checkRangeFast(offset, length, size_);
  SplitMix64 random{checkIndex(seedValue, "seed", label)};
  uint64_t bits = length * 8;
  if (count > bits || count > flipBitsMax) {
    fail(Code::badArgument, label,
         "cannot flip " + std::to_string(count) + " distinct bits in " + std::to_string(length) +
             " bytes (at most " + std::to_string(flipBitsMax) + ")");
  }
  // Floyd's sampling: `count` distinct bit positions.
  std::unordered_set<uint64_t> chosen;
  for (uint64_t j = bits - count; j < bits; j++) {
    uint64_t t = random.below(j + 1);
    uint64_t bit = chosen.insert(t).second ? t : j;
    if (bit == j) chosen.insert(j);
    uint64_t byte = offset + bit / 8;
    uint8_t mask = static_cast<uint8_t>(1u << (bit % 8));
    durableData_[byte] ^= mask;
    volatileData_[byte] ^= mask;
  }
}

void TracedDevice::loseDevice() {
  checkOpen();
  std::memset(volatileData_, 0, size_);
  std::memset(durableData_, 0, size_);
  for (uint32_t lineIndex : dirtyLines_) lines_[lineIndex] = Line{};
  dirtyLines_.clear();
  sortedLinesValid_ = false;
  flushingBase_ += flushing_.size();
  flushing_.clear();
  entries_.clear();
  alive_ = 0;
  fenced_ = 0;
  fencePoint_ = instructions_;  // nothing is left for a pending issue to cover
}

uint64_t TracedDevice::boot() {
  checkOpen();
  HeaderInfo info = header::parse(durableData_, size_, label);
  header::BootSlotStore store = header::nextBoot(durableData_, info.deviceId);
  std::memcpy(durableData_ + store.offset, store.bytes, sizeof store.bytes);
  std::memcpy(volatileData_ + store.offset, store.bytes, sizeof store.bytes);
  verify(header::bootCount(durableData_, info.deviceId) == store.bootCount, "boot slot reads back");
  return store.bootCount;
}

// ---- traces ----

const Trace& TracedDevice::trace() const {
  checkOpen();
  if (!record_) fail(Code::badArgument, label, "trace recording is off (construct with record = true)");
  return trace_;
}

void TracedDevice::validateTrace(const TraceView& t, uint64_t from, uint64_t to) const {
  if (from > to || to > t.count) {
    fail(Code::outOfRange, label,
         "trace range [" + std::to_string(from) + ", " + std::to_string(to) +
             ") is outside the trace of " + std::to_string(t.count) + " instructions");
  }
  std::unordered_set<uint64_t> completed;  // issues (trace indices) completed in the range
  for (uint64_t i = from; i < to; i++) {
    std::string what = "trace instruction " + std::to_string(i);
    if (t.kinds[i] > 4) {
      fail(Code::badArgument, label, what + " has unknown kind " + std::to_string(t.kinds[i]));
    }
    if (t.kinds[i] == 2 || t.kinds[i] == 3) continue;
    if (t.kinds[i] == 4) {
      // Its issue runs earlier in the range, or ran on this device before it (still pending).
      uint64_t issue = checkIndex(t.offsets[i], "trace fence issue", label);
      uint64_t onDevice = issue - from + instructions_;
      bool pending = issue < i && t.kinds[issue] == 3 && completed.insert(issue).second &&
                     (issue >= from || std::any_of(issued_.begin(), issued_.end(),
                                                   [onDevice](const IssuedFence& f) {
                                                     return f.instruction == onDevice;
                                                   }));
      if (!pending) {
        fail(Code::badArgument, label,
             what + " completes no pending fence issue (instruction " + std::to_string(issue) +
                 ")");
      }
      continue;
    }
    uint64_t offset = checkIndex(t.offsets[i], "trace offset", label);
    uint64_t length = checkIndex(t.lengths[i], "trace length", label);
    checkRange(offset, length, size_, label);
    if (t.kinds[i] == 0) {
      uint64_t dataOffset = checkIndex(t.dataOffsets[i], "trace data offset", label);
      if (dataOffset > t.dataBytes || length > t.dataBytes - dataOffset) {
        fail(Code::outOfRange, label, what + " reads past the end of the trace data");
      }
    }
  }
}

void TracedDevice::applyTrace(const TraceView& t, uint64_t from, uint64_t to) {
  checkOpen();
  validateTrace(t, from, to);  // all of it before the first instruction runs
  uint64_t start = instructions_;  // trace index i runs as instruction i - from + start
  for (uint64_t i = from; i < to; i++) {
    uint64_t kind = t.kinds[i];
    if (kind == 2) {
      fence();
      continue;
    }
    if (kind == 3) {
      fenceIssue();
      continue;
    }
    uint64_t offset = static_cast<uint64_t>(t.offsets[i]);
    if (kind == 4) {
      fenceComplete(offset - from + start);
      continue;
    }
    uint64_t length = static_cast<uint64_t>(t.lengths[i]);
    if (kind == 0) {
      store(offset, t.data + static_cast<uint64_t>(t.dataOffsets[i]), length);
    } else {
      flush(offset, length);
    }
  }
}

}  // namespace nvram
