// traced_device.h -- the persistency model of SPEC section 3, in memory (traced mode).
//
// Every store, flush and fence is an instruction with a global index, and so are the two
// halves of an asynchronous fence (below). The device keeps
//   - the volatile image: what loads see (every store lands here at once);
//   - the durable image: what survives any power cut;
//   - the non-durable word-stores, in global program order: one per aligned 8-byte word a
//     store instruction touched (ascending address order within the instruction), holding
//     the word's full content after the store (a partial word is merged with the bytes
//     around it), and a state, pending (stored) or flushing (flushed, not yet fenced);
//   - per 64-byte line, the list of its non-durable word-stores in program order, so that
//     flush(range) costs in proportion to the lines touched. Within a line the flushing
//     stores always precede the pending ones, so a fence retires a prefix of every line.
// fence() makes every flushing store durable (applies it to the durable image).
//
// Asynchronous fence: fenceIssue() (kind 3) changes no store. It covers the stores flushing
// at that moment (per line a prefix of the line's non-durable stores: those flushed before
// the issue) and returns its own instruction index, which names it. fenceComplete(issue)
// (kind 4, any later instruction) makes exactly that cover durable, as fence() would have at
// the issue: stores and flushes after the issue are not covered and stay pending or flushing.
// Until the completion the cover is still non-durable, so a cut between issue and completion
// allows exactly the images it would allow had the issue never run. A fence point is a fence
// or the issue of a completed asynchronous fence; with P the latest fence point, every store
// flushed before P is durable. A completion whose issue precedes P (a fence, or the completion
// of a later issue, covered its stores already) changes nothing but still counts as an
// instruction. Issues complete in any order, each once; completing an issue that is not
// pending is NVRAM_BAD_ARGUMENT (an argument error: not an instruction). loseDevice leaves
// pending issues pending, with nothing left to cover.
//
// A post-crash image is the durable image plus a survivor set of non-durable word-stores
// applied in program order. The models decide which survivor sets are allowed:
//   px86    per line a prefix of its list: imageCount = product over lines of (n_line + 1).
//           Image index = mixed-radix number, one digit per line with stores, lowest
//           address = least significant digit; the digit is how many of that line's stores
//           survive. A completion retires the cover: per line, a prefix of its list.
//   relaxed any subset: imageCount = 2^n; bit i of the index keeps the i-th store. A
//           completion retires the cover, as under px86.
//   eadr    the caches are in the persistence domain: a fence drains every earlier store,
//           flushed or not, and a flush changes nothing. So an asynchronous fence covers every
//           store issued before its issue, and its completion makes P the issue. The
//           survivors are every non-durable store issued before P (f of them, the first f in
//           program order) plus a prefix in global program order of the n - f issued after
//           it: imageCount = n - f + 1; the index is the length of that prefix. Between an
//           issue and its completion P is still the earlier fence point, so the stores
//           issued between P and the issue are still among the n - f.
// Index 0 is "nothing survived" (the durable image; under eadr the durable image plus the f
// fenced stores), imageCount - 1 "everything survived".
//
// Errors: NVRAM_OUT_OF_RANGE (ranges outside the device), NVRAM_BAD_ARGUMENT (non-integer or
// negative numbers, unknown word-store ids, wrong image sizes, completing an issue not
// pending), NVRAM_BAD_SIZE (device size), NVRAM_POWER_CUT (instructions at or after the cut),
// NVRAM_CLOSED (after close), and the header errors of header.h from boot().
//
// Power cut: setPowerCut(k) makes the call that would be instruction k throw PowerCut(k)
// instead of running; the device is then powered off for good and every later instruction
// throws PowerCut(k) too. Arguments are validated before the power check, so a call with
// bad arguments is not an instruction and throws its own error.
// Word-store ids are dense and stable for the life of the device (ascending = program
// order). The size must be a positive multiple of 64 (lines), at most 2^40 bytes.
// Traces: a completion's record holds its issue's instruction index in `offset`; applyTrace
// maps trace indices to the device's (trace index from = the device's next instruction).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nvram.h"

namespace nvram {

// A recorded instruction trace: kinds 0 store, 1 flush, 2 fence, 3 fence issue, 4 fence
// completion (offset = the instruction index of its issue).
struct TraceRecord {
  uint64_t offset;
  uint64_t length;
  uint64_t dataOffset;  // stores: where the bytes start in Trace::data
  uint8_t kind;
};
struct Trace {
  std::vector<TraceRecord> records;
  std::vector<uint8_t> data;
};

// A trace handed in from outside (numbers still unchecked doubles).
struct TraceView {
  const uint8_t* kinds;
  const double* offsets;
  const double* lengths;
  const double* dataOffsets;
  uint64_t count;  // instructions; every array above holds at least this many
  const uint8_t* data;
  uint64_t dataBytes;
};

enum class StoreState : uint8_t { pending = 0, flushing = 1, durable = 2 };

// The memory of one image, shared with whatever exposes it (the JS ArrayBuffer of the
// volatile image): freed by the device's close or by its last owner, whichever is first.
class ImageMemory {
 public:
  explicit ImageMemory(uint64_t sizeBytes);
  ~ImageMemory() { release(); }
  ImageMemory(const ImageMemory&) = delete;
  ImageMemory& operator=(const ImageMemory&) = delete;
  uint8_t* data() const { return data_; }
  void release();

 private:
  uint8_t* data_;
  uint64_t sizeBytes_;
};

class TracedDevice {
 public:
  TracedDevice(const uint8_t* image, uint64_t sizeBytes, bool record);

  uint64_t sizeBytes() const { return size_; }
  // The volatile image, shared with whoever exposes it (the JS ArrayBuffer).
  const std::shared_ptr<ImageMemory>& volatileImage() const { return volatile_; }
  bool closed() const { return volatileData_ == nullptr; }
  uint64_t instructionCount() const { return instructions_; }
  bool poweredOff() const { return poweredOff_; }
  bool recording() const { return record_; }

  // k = -1 clears the cut point; otherwise k >= instructionCount (NVRAM_BAD_ARGUMENT).
  void setPowerCut(double k);
  void store(uint64_t offset, const uint8_t* bytes, uint64_t length);
  void flush(uint64_t offset, uint64_t length);
  void fence();
  // The asynchronous fence: returns the issue's instruction index, which names it.
  uint64_t fenceIssue();
  void fenceComplete(uint64_t issue);

  double imageCount(Model model) const;
  uint64_t nonDurableCount() const { return alive_; }
  // Non-durable stores issued before the latest fence point: durable under eadr (the first ones).
  uint64_t fencedCount() const { return fenced_; }
  // Fills arrays of nonDurableCount() elements, in program order.
  void nonDurableStores(double* ids, double* instructions, double* offsets, uint8_t* states) const;
  // Survivor ids in program order; the vector is reused by the next call.
  const std::vector<double>& survivorsByIndex(Model model, double index);
  const std::vector<double>& survivorsBySeed(Model model, double seed);
  bool allows(Model model, const double* ids, uint64_t count);
  void buildImage(const double* ids, uint64_t count, uint8_t* out, uint64_t outBytes);
  void buildDurableImage(uint8_t* out, uint64_t outBytes) const;

  void flipBits(uint64_t offset, uint64_t length, uint64_t count, double seed);
  void loseDevice();
  uint64_t boot();

  const Trace& trace() const;
  void applyTrace(const TraceView& trace, uint64_t from, uint64_t to);

  // Frees both images and every index at once (idempotent); afterwards every method
  // throws NVRAM_CLOSED. Whoever exposes the volatile image must stop doing so first.
  void close();

 private:
  static constexpr uint32_t none = UINT32_MAX;

  struct WordStore {
    uint64_t id;
    uint64_t instruction;
    uint64_t offset;  // of the word
    uint64_t value;   // the word's full content after the store
    uint32_t nextInLine;
    StoreState state;
    uint8_t mark;  // scratch for allows()
  };

  struct IssuedFence {
    uint64_t instruction;  // of the issue
    uint64_t flushed;      // flush numbers below this are covered (see flushingBase_)
  };

  struct Line {
    uint32_t head = none;          // oldest non-durable store of the line
    uint32_t tail = none;          // newest
    uint32_t firstPending = none;  // first store not yet flushed
    uint32_t count = 0;            // non-durable stores of the line
    uint32_t dirtyIndex = none;    // position in dirtyLines_
  };

  void checkOpen() const;
  void beginInstruction();
  void addWordStore(uint64_t offset, uint64_t value);
  void flushLine(uint32_t line);
  void retire(uint32_t index);
  void retireFlushing(size_t count);
  void compact();
  void checkImageBytes(uint64_t outBytes) const;
  uint32_t findEntry(uint64_t id) const;
  bool resolve(const double* ids, uint64_t count, bool strict);
  const std::vector<uint32_t>& sortedDirtyLines();
  const std::vector<double>& survivorIds();
  void validateTrace(const TraceView& trace, uint64_t from, uint64_t to) const;

  uint64_t size_;
  bool record_;
  std::shared_ptr<ImageMemory> volatile_;
  std::shared_ptr<ImageMemory> durable_;
  uint8_t* volatileData_;  // null once closed
  uint8_t* durableData_;
  uint64_t instructions_ = 0;
  uint64_t cutAt_ = UINT64_MAX;  // none
  bool poweredOff_ = false;

  std::vector<WordStore> entries_;  // program order; retired (durable) ones until compacted
  uint64_t alive_ = 0;              // non-durable entries
  uint64_t fenced_ = 0;             // of those, the ones before the latest fence point (eadr)
  uint64_t fencePoint_ = 0;         // P: the latest fence or completed issue (instruction index)
  uint64_t nextId_ = 0;
  std::vector<Line> lines_;
  std::vector<uint32_t> dirtyLines_;  // lines with count > 0, unordered
  std::vector<uint32_t> flushing_;    // entry indices in flushing state, in flush order
                                      // (so per line in program order)
  // Every store entering the flushing state gets the next flush number; flushing_[j] has
  // number flushingBase_ + j (so an issue's cover is a prefix of flushing_).
  uint64_t flushingBase_ = 0;
  std::vector<IssuedFence> issued_;  // pending asynchronous fences, in issue order

  // Scratch, reused so that the hot paths allocate nothing once warm.
  std::vector<uint32_t> sortedLines_;  // dirtyLines_ ascending, valid if sortedLinesValid_
  bool sortedLinesValid_ = false;
  std::vector<uint32_t> scratchEntries_;
  std::vector<double> scratchIds_;
  Trace trace_;
};

}  // namespace nvram
