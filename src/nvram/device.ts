import type { HeaderInfo, SectionInfo } from './addon-api.js';

export type { HeaderInfo, SectionInfo, PersistencyModel, Durability } from './addon-api.js';

/**
 * The one device interface the runtime is written against (SPEC 1 [140], SPEC 3).
 * The same runtime code runs on a `DirectNvram` in production (stores go straight into the
 * shared mapping, loads are DataView reads, no native call per operation) and on a
 * `TracedNvram` in the crash lab (every store, flush and fence is a counted instruction).
 *
 * Offsets are absolute device byte offsets. Atomicity: an aligned 8-byte word never tears;
 * nothing larger is atomic. Ordering/durability: nothing is durable until `persist` (or
 * `flush` then `fence`) covering it has returned.
 */
export interface NvramDevice {
  readonly kind: 'direct' | 'traced';
  readonly sizeBytes: number;
  readonly header: HeaderInfo;
  /** The named section; throws NVRAM_UNKNOWN_SECTION. */
  section(name: string): SectionInfo;

  loadU32(offset: number): number;
  /**
   * An aligned 8-byte little-endian word read as a JS number. Words the runtime stores are
   * < 2^53 and read back exactly; a word >= 2^53 (only corrupt media holds one) reads as a
   * rounded number that is still >= 2^53, so the caller's range validation rejects it.
   */
  loadU64(offset: number): number;
  /** Copies `target.length` bytes starting at `offset` into `target`. */
  loadBytes(offset: number, target: Uint8Array): void;

  /** One instruction. 4-byte aligned. */
  storeU32(offset: number, value: number): void;
  /** One instruction; 8-byte aligned, so atomic (one word). `value` an integer < 2^53. */
  storeU64(offset: number, value: number): void;
  /** One instruction writing `source` (or its [start, end) part) at `offset`. */
  storeBytes(offset: number, source: Uint8Array, start?: number, end?: number): void;

  flush(offset: number, length: number): void;
  fence(): void;
  /** flush + fence (SPEC 3). In direct 'power' durability also msync of the touched pages. */
  persist(offset: number, length: number): void;
  /**
   * An asynchronous fence: issued now, over every store flushed before this call; `onComplete`
   * is called later (never before this returns) once they are all durable, or with the error
   * that kept them from being so (NVRAM_IO: fail-stop). Stores and flushes made after the issue
   * and before the completion may or may not be made durable by it. In direct 'power'
   * durability the msync runs on a worker thread while JavaScript goes on (docs/ARCHITECTURE.md,
   * "Pipelined fence").
   */
  fenceAsync(onComplete: (error: Error | null) => void): void;

  /** Idempotent; every method after it throws NVRAM_CLOSED. */
  close(): void;
}
