/**
 * The shape of the native addon (native/addon.cpp) as seen from TypeScript.
 * Only src/nvram/ imports this; the runtime uses the `NvramDevice` interface in device.ts.
 *
 * All offsets and lengths are byte counts as JS numbers (integers, >= 0, < 2^53); the addon
 * validates every argument and throws NvramError (codes in errors.ts) rather than trusting it.
 */

export interface SectionSpec {
  /** 1..31 bytes of [a-z0-9._-] */
  name: string;
  /** bytes; rounded up to a multiple of 4096 when laid out */
  length: number;
}

export interface SectionInfo {
  name: string;
  /** absolute byte offset in the device; a multiple of 4096 */
  offset: number;
  /** bytes; a multiple of 4096 */
  length: number;
}

export interface HeaderInfo {
  magic: string; // 'NVRLDEV1'
  version: number;
  sizeBytes: number;
  deviceId: bigint;
  bootCount: number;
  sections: SectionInfo[];
}

/** The persistency models of SPEC section 3. */
export type PersistencyModel = 'px86' | 'relaxed' | 'eadr';
export type Durability = 'process' | 'power';

/** One non-durable word-store (SPEC 3: the unit a power cut may keep or lose). */
export interface WordStoreList {
  /** dense ids, ascending = global program order; ids are stable for the life of the device */
  ids: Float64Array;
  /** instruction index of the store instruction that wrote the word */
  instructions: Float64Array;
  /** absolute byte offset of the word (a multiple of 8) */
  offsets: Float64Array;
  /** 0 = pending (stored, not flushed), 1 = flushing (flushed, not fenced) */
  states: Uint8Array;
}

/** A recorded instruction trace, replayable by `applyTrace` without re-running JS. */
export interface TraceLog {
  /**
   * 0 = store, 1 = flush, 2 = fence, 3 = fence issue, 4 = fence completion (its `offsets` entry
   * is the instruction index of its issue)
   */
  kinds: Uint8Array;
  offsets: Float64Array;
  lengths: Float64Array;
  /** for stores: where the stored bytes start in `data` */
  dataOffsets: Float64Array;
  data: Uint8Array;
}

export interface NativeDirectDevice {
  /** The whole mapping, zero-copy. Detached (byteLength 0) after close. */
  readonly buffer: ArrayBuffer;
  readonly header: HeaderInfo;
  readonly path: string;
  readonly durability: Durability;
  /** msync(MS_SYNC) of the pages covering [offset, offset+length); used in 'power' durability. */
  msync(offset: number, length: number): void;
  /**
   * The same msync run on a libuv pool thread while JavaScript goes on. `onComplete` is called
   * later on the JavaScript thread (never before this returns) with null, or with the NvramError
   * NVRAM_IO the synchronous msync would have thrown. NVRAM_BAD_ARGUMENT, NVRAM_OUT_OF_RANGE and
   * NVRAM_CLOSED are thrown at once. close waits for every one still running before it unmaps.
   */
  msyncAsync(offset: number, length: number, onComplete: (error: Error | null) => void): void;
  /**
   * Idempotent. msyncs the whole mapping (MS_SYNC, in both durabilities), waits for every
   * msyncAsync still running, then detaches `buffer`, unmaps, releases the lock and closes the
   * file; throws NVRAM_IO if the msync failed, with the device closed all the same.
   */
  close(): void;
}

export interface NativeDirectDeviceCtor {
  /**
   * Opens a formatted device file for writing: validates the header, takes an exclusive
   * advisory lock (NVRAM_LOCKED if held), maps it MAP_SHARED and increments the boot counter
   * durably (msync) before returning.
   */
  new (path: string, durability: Durability): NativeDirectDevice;
}

export interface NativeTracedDevice {
  /** The volatile image (what loads see), zero-copy; JS must only read it. */
  readonly buffer: ArrayBuffer;
  readonly sizeBytes: number;
  /** Instructions executed so far (the next instruction gets this index). */
  readonly instructionCount: number;
  /** True once an instruction hit the cut point. */
  readonly poweredOff: boolean;
  /** Cut power when the instruction counter reaches k (that instruction does not run). -1 clears. */
  setPowerCut(k: number): void;
  store(offset: number, bytes: Uint8Array): void;
  flush(offset: number, length: number): void;
  fence(): void;
  /**
   * Issues an asynchronous fence (one instruction, kind 3) over every store flushed so far;
   * returns its instruction index, which names it for fenceComplete.
   */
  fenceIssue(): number;
  /**
   * Completes the fence issued at instruction `issue` (one instruction, kind 4): the stores it
   * covers become durable, none flushed after the issue. NVRAM_BAD_ARGUMENT unless pending.
   */
  fenceComplete(issue: number): void;
  /** Number of post-crash images the model allows right now (may be Infinity if > 1e308). */
  imageCount(model: PersistencyModel): number;
  /** The non-durable word-stores right now, in global program order. */
  pendingStores(): WordStoreList;
  /**
   * The survivor set for image `index` (0 <= index < imageCount; index 0 = nothing pending
   * survived, imageCount-1 = everything survived). Returns word-store ids.
   */
  survivorsByIndex(model: PersistencyModel, index: number): Float64Array;
  /** A seeded random survivor set allowed by the model (deterministic for a seed). */
  survivorsBySeed(model: PersistencyModel, seed: number): Float64Array;
  /** True if the model allows exactly this survivor set. */
  allows(model: PersistencyModel, survivorIds: Float64Array): boolean;
  /** Writes durable image + the given surviving word-stores (in program order) into `out`. */
  buildImage(survivorIds: Float64Array, out: Uint8Array): void;
  /** The durable image only (index 0 of every model). */
  buildDurableImage(out: Uint8Array): void;
  /** Media fault: flip `count` seeded-random bits in [offset, offset+length), durable and volatile. */
  flipBits(offset: number, length: number, count: number, seed: number): void;
  /** Media fault: the whole device is lost (battery failure); both images become zero. */
  loseDevice(): void;
  /**
   * A reboot: durably increments the boot counter in both images (the device's own two-slot
   * update, not a traced instruction) and returns the new count.
   */
  boot(): number;
  /**
   * Idempotent. Detaches `buffer` and frees both images at once (rather than when the GC gets to
   * the object); every method afterwards throws NVRAM_CLOSED.
   */
  close(): void;
  /** The trace recorded so far (only if constructed with record = true). */
  exportTrace(): TraceLog;
  /** Executes instructions [from, to) of `trace` natively, as if called from JS. */
  applyTrace(trace: TraceLog, from: number, to: number): void;
}

export interface NativeTracedDeviceCtor {
  /** A traced device in memory whose volatile and durable images both start as `image` (copied). */
  new (image: Uint8Array, record: boolean): NativeTracedDevice;
}

export interface NvramAddon {
  /** Registers the JS error classes native code throws (called once by addon.ts). */
  setErrorClasses(nvramError: unknown, powerCutError: unknown): void;
  /** CRC32C (Castagnoli) of bytes [offset, offset+length) of `bytes`, continuing from `seed` (default 0). */
  crc32c(bytes: Uint8Array, offset?: number, length?: number, seed?: number): number;
  /**
   * Creates `path` (mode 0600, O_EXCL unless force) of `sizeBytes`, preallocates all of it
   * (posix_fallocate; NVRAM_IO and no file left if that fails) and writes a formatted header
   * with the given sections laid out in order after the header page, boot counter 0.
   * Returns the header written.
   */
  format(path: string, sizeBytes: number, sections: SectionSpec[], force: boolean): HeaderInfo;
  /** Formats an in-memory image (for traced devices); `out.length` is the device size. */
  formatImage(out: Uint8Array, sections: SectionSpec[], deviceId: bigint): HeaderInfo;
  /** Validates and decodes a header from an image; `label` names the file in messages. */
  parseHeader(image: Uint8Array, label: string): HeaderInfo;
  /** Durably increments the boot counter inside an in-memory image (two-slot update). */
  bootImage(image: Uint8Array): number;
  DirectDevice: NativeDirectDeviceCtor;
  TracedDevice: NativeTracedDeviceCtor;
}
