/**
 * DirectNvram: the production device (SPEC 3, "direct mode"). The device file is mapped
 * MAP_SHARED by the addon; loads and stores are plain typed-array accesses on that mapping from
 * TypeScript, with a cheap inline bounds/alignment check and no native call. Only `persist` /
 * `fence` / `fenceAsync` in 'power' durability cross into native (msync; fenceAsync's runs on a
 * pool thread), and `close` (one msync of the whole mapping in either durability, so a
 * write-back error is reported rather than lost).
 *
 * Why 'process' durability needs no native call in persist: the mapping *is* the page cache of
 * the file. A store instruction that has retired is in the CPU's store buffer or cache, and on
 * x86 (TSO) the store buffer drains in program order and is never discarded, whatever happens
 * to the process: kill -9 tears down the address space but not the pages, which the kernel
 * writes back later. A single JS thread observes its own stores in program order, so there is
 * no other observer to order against. Hence persist = validated no-op: after a store returns,
 * the data survives a process crash (not a power cut: that is what 'power' durability is for).
 */
import { closeSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import type {
  Durability,
  HeaderInfo,
  NativeDirectDevice,
  SectionInfo,
  SectionSpec,
} from './addon-api.js';
import { addon } from './addon.js';
import {
  failAccess,
  fail,
  headerBytes,
  pageBytes,
  requireBoolean,
  requireBytes,
  requireCount,
  requireLayout,
  requireOptions,
  requirePath,
  requireRange,
  requireU32Value,
  requireWordValue,
  describe,
  type Site,
  requireFunction,
} from './arguments.js';
import type { NvramDevice } from './device.js';
import { NvramError } from './errors.js';
import { SectionTable } from './section-table.js';

export interface DirectFormatOptions {
  /** Device size in bytes, a positive multiple of 4096. */
  sizeBytes: number;
  /** Laid out in order after the header page, each rounded up to 4096 bytes. */
  sections?: SectionSpec[];
  /** Overwrite an existing file (default false: NVRAM_FILE_EXISTS). */
  force?: boolean;
}

export interface DirectOpenOptions {
  /** 'process' (default): persist is a fence; 'power': persist also msyncs the touched pages. */
  durability?: Durability;
}

const twoTo32 = 2 ** 32;

/** A fenceAsync in 'power' durability, from its issue until its completion is delivered. */
interface PendingFence {
  /** Its own hull [start, end), msynced on a pool thread; start = end when it had none. */
  readonly start: number;
  readonly end: number;
  /** True once its msync has returned (at once when it had none). */
  synced: boolean;
  /** Its msync's error, or that of an earlier fence (whose stores it covers too). */
  error: Error | null;
  readonly onComplete: (error: Error | null) => void;
}

assertLittleEndian();

export class DirectNvram implements NvramDevice {
  readonly kind = 'direct' as const;
  readonly sizeBytes: number;
  readonly header: HeaderInfo;
  readonly path: string;
  readonly durability: Durability;

  readonly #native: NativeDirectDevice;
  readonly #sections: SectionTable;
  #u8: Uint8Array;
  #u32: Uint32Array;
  /** Whole-word view: one element store = one 8-byte store instruction (word atomicity). */
  #f64: Float64Array;
  readonly #scratchF64 = new Float64Array(1);
  readonly #scratchU32 = new Uint32Array(this.#scratchF64.buffer);
  /** Largest valid offset for a 4- and 8-byte load; -1 once closed, so the fast check fails. */
  #loadLast4: number;
  #loadLast8: number;
  /** The same for stores, which may not touch the header page. */
  #storeLast4: number;
  #storeLast8: number;
  /** sizeBytes, or -1 once closed (the byte-range fast checks compare against it). */
  #accessEnd: number;
  #closed = false;
  /**
   * The page-aligned hull [start, end) of everything flushed since the last fence ('power' only;
   * start = end when nothing is). A fence is one msync of the hull: an msync costs one
   * write-back and one disk cache flush, nearly whatever its range holds (`npm run bench --
   * --only device`: one dirty page, eight, or two 4 MiB apart cost about the same; two calls
   * cost nearly twice one), so one call beats one per range. Pages in the hull that were stored
   * but not flushed may be written too: the persistency model lets any store become durable
   * early (SPEC 3).
   */
  #flushStart = 0;
  #flushEnd = 0;
  #msyncs = 0;
  /** The fenceAsync calls not yet completed, in issue order ('power' only). */
  readonly #pendingFences: PendingFence[] = [];

  /**
   * Formats `path` as a device (file mode 0600). Returns the header written. Every block of the
   * file is preallocated (posix_fallocate), so no later store into the mapping can find the file
   * system full: in a sparse file that store would raise SIGBUS and kill the process. When the
   * blocks cannot be allocated (ENOSPC, or a file system without fallocate) format throws
   * NvramError NVRAM_IO carrying the errno text and leaves no file at `path`.
   */
  static format(path: string, options: DirectFormatOptions): HeaderInfo {
    const site = { label: typeof path === 'string' ? path : 'device', method: 'format' };
    const file = requirePath(site, path);
    const fields = requireOptions(site, options, ['sizeBytes', 'sections', 'force']);
    if (options === undefined) fail(site, 'NVRAM_BAD_ARGUMENT', 'options {sizeBytes} are required');
    const sections = requireLayout(site, fields['sizeBytes'], fields['sections'] ?? []);
    const force = requireBoolean(site, 'force', fields['force'] ?? false);
    requireDeviceFile(file, { mayBeMissing: true });
    return addon.format(file, fields['sizeBytes'] as number, sections, force);
  }

  /**
   * Opens a formatted device for writing: validates the header, takes the advisory lock
   * (NVRAM_LOCKED if another process holds it), maps it and counts a boot.
   */
  static open(path: string, options?: DirectOpenOptions): DirectNvram {
    const site = { label: typeof path === 'string' ? path : 'device', method: 'open' };
    const file = requirePath(site, path);
    const fields = requireOptions(site, options, ['durability']);
    const durability = fields['durability'] ?? 'process';
    if (durability !== 'process' && durability !== 'power') {
      fail(
        site,
        'NVRAM_BAD_ARGUMENT',
        `durability must be 'process' or 'power', got ${describe(durability)}`,
      );
    }
    requireDeviceFile(file, { mayBeMissing: true }); // a missing file: the addon's NVRAM_FILE_MISSING
    try {
      return new DirectNvram(new addon.DirectDevice(file, durability));
    } catch (error) {
      // The addon names no bytes; show what the file starts with (nothing was written).
      if (error instanceof NvramError && error.code === 'NVRAM_BAD_MAGIC') {
        const start = readStart(file);
        if (start !== null && start.some((byte) => byte !== 0))
          throw new NvramError('NVRAM_BAD_MAGIC', `nvram: ${file}: ${foreignMagic(start)}`);
      }
      throw error;
    }
  }

  private constructor(native: NativeDirectDevice) {
    this.#native = native;
    this.header = native.header;
    this.path = native.path;
    this.durability = native.durability;
    this.sizeBytes = native.header.sizeBytes;
    this.#sections = new SectionTable(this.header, this.path);
    this.#u8 = new Uint8Array(native.buffer);
    this.#u32 = new Uint32Array(native.buffer);
    this.#f64 = new Float64Array(native.buffer);
    assert(this.#u8.length === this.sizeBytes, `${this.path}: mapping size differs from header`);
    this.#loadLast4 = this.sizeBytes - 4;
    this.#loadLast8 = this.sizeBytes - 8;
    this.#storeLast4 = this.sizeBytes - 4;
    this.#storeLast8 = this.sizeBytes - 8;
    this.#accessEnd = this.sizeBytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  section(name: string): SectionInfo {
    this.#checkOpen('section');
    return this.#sections.find(name, 'section');
  }

  /** A zero-copy view of the named section, straight onto the mapping (empty after close). */
  sectionBytes(name: string): Uint8Array {
    this.#checkOpen('sectionBytes');
    const section = this.#sections.find(name, 'sectionBytes');
    return new Uint8Array(this.#native.buffer, section.offset, section.length);
  }

  loadU32(offset: number): number {
    if (
      typeof offset !== 'number' ||
      offset % 4 !== 0 ||
      !(offset >= 0) ||
      offset > this.#loadLast4
    ) {
      this.#failAccess('loadU32', offset, 4, 4, 0);
    }
    return this.#u32[offset / 4] as number;
  }

  loadU64(offset: number): number {
    if (
      typeof offset !== 'number' ||
      offset % 8 !== 0 ||
      !(offset >= 0) ||
      offset > this.#loadLast8
    ) {
      this.#failAccess('loadU64', offset, 8, 8, 0);
    }
    const index = offset / 4;
    // A word >= 2^53 (corrupt media) comes back rounded but still >= 2^53, so range checks reject it.
    return (this.#u32[index + 1] as number) * twoTo32 + (this.#u32[index] as number);
  }

  loadBytes(offset: number, target: Uint8Array): void {
    if (!(target instanceof Uint8Array)) this.#failBytes('loadBytes', 'target', target);
    const length = target.length;
    if (
      typeof offset !== 'number' ||
      !Number.isInteger(offset) ||
      !(offset >= 0) ||
      offset + length > this.#accessEnd
    ) {
      this.#failAccess('loadBytes', offset, length, 1, 0);
    }
    target.set(this.#u8.subarray(offset, offset + length));
  }

  storeU32(offset: number, value: number): void {
    if (
      typeof offset !== 'number' ||
      offset % 4 !== 0 ||
      !(offset >= headerBytes) ||
      offset > this.#storeLast4
    ) {
      this.#failAccess('storeU32', offset, 4, 4, headerBytes);
    }
    if (typeof value !== 'number' || !(value >>> 0 === value)) {
      requireU32Value({ label: this.path, method: 'storeU32' }, value);
    }
    this.#u32[offset / 4] = value;
  }

  storeU64(offset: number, value: number): void {
    if (
      typeof offset !== 'number' ||
      offset % 8 !== 0 ||
      !(offset >= headerBytes) ||
      offset > this.#storeLast8
    ) {
      this.#failAccess('storeU64', offset, 8, 8, headerBytes);
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      requireWordValue({ label: this.path, method: 'storeU64' }, value);
    }
    // One 8-byte store (a double whose bit pattern is the word), not two 4-byte halves, so the
    // kernel's writeback of the page can never see half a word (SPEC 3: a word never tears).
    // Values < 2^53 have a zero top exponent bit, so the pattern is never a NaN and copies exactly.
    this.#scratchU32[0] = value % twoTo32;
    this.#scratchU32[1] = (value - (value % twoTo32)) / twoTo32;
    this.#f64[offset / 8] = this.#scratchF64[0] as number;
  }

  storeBytes(offset: number, source: Uint8Array, start?: number, end?: number): void {
    if (!(source instanceof Uint8Array)) this.#failBytes('storeBytes', 'source', source);
    const from = start === undefined ? 0 : start;
    const to = end === undefined ? source.length : end;
    if (
      !Number.isInteger(from) ||
      !Number.isInteger(to) ||
      !(from >= 0 && from <= to && to <= source.length)
    ) {
      this.#failSlice('storeBytes', source, start, end);
    }
    const length = to - from;
    if (
      typeof offset !== 'number' ||
      !Number.isInteger(offset) ||
      !(offset >= headerBytes) ||
      offset + length > this.#accessEnd
    ) {
      this.#checkEmptyStore(offset, length); // throws unless it is a harmless empty store
      return;
    }
    this.#u8.set(from === 0 && to === source.length ? source : source.subarray(from, to), offset);
  }

  flush(offset: number, length: number): void {
    this.#checkRange('flush', offset, length);
    if (this.durability === 'power' && length > 0) this.#noteFlushed(offset, length);
  }

  /**
   * In 'power' durability, one msync of the hull; stores under a fenceAsync whose msync is still
   * running on a pool thread were flushed before this fence too, so their pages join the hull
   * (an msync of pages under write-back waits for it).
   */
  fence(): void {
    this.#checkOpen('fence');
    if (this.durability !== 'power') return; // see the file comment: no fence needed for kill -9
    for (const pending of this.#pendingFences) {
      if (!pending.synced) this.#noteFlushed(pending.start, pending.end - pending.start);
    }
    if (this.#flushEnd > this.#flushStart)
      this.#msync(this.#flushStart, this.#flushEnd - this.#flushStart);
    this.#flushStart = this.#flushEnd = 0;
  }

  /**
   * In 'power' durability the msync of the hull runs on a pool thread while JavaScript goes on
   * storing into the mapping; the hull starts afresh for the next group. Completions are
   * delivered in issue order: a fence covers every store flushed before it, the stores of the
   * fences issued before it included, so it completes only once their msyncs have returned too,
   * and with the first error among them (NVRAM_IO). Timed for `onSync` from issue to the msync's
   * return. In 'process' durability nothing is msynced: it completes on the next turn. On a
   * closed device it completes with NVRAM_CLOSED; close waits for any msync still running.
   */
  fenceAsync(onComplete: (error: Error | null) => void): void {
    requireFunction(this.#site('fenceAsync'), 'onComplete', onComplete);
    try {
      this.#checkOpen('fenceAsync');
    } catch (error) {
      setImmediate(onComplete, error as Error);
      return;
    }
    const start = this.#flushStart;
    const end = this.#flushEnd;
    this.#flushStart = this.#flushEnd = 0;
    if (this.durability !== 'power' || (end === start && this.#pendingFences.length === 0)) {
      setImmediate(onComplete, null);
      return;
    }
    const pending: PendingFence = { start, end, synced: end === start, error: null, onComplete };
    this.#pendingFences.push(pending);
    // Nothing of its own to msync: it completes right after the fences before it, which are
    // still pending, so not before this returns.
    if (pending.synced) return;
    const issued = performance.now();
    try {
      this.#native.msyncAsync(start, end - start, (error) => {
        const ms = performance.now() - issued;
        pending.synced = true;
        pending.error ??= error;
        try {
          this.#deliverFences();
        } finally {
          this.onSync?.(ms);
        }
      });
      this.#msyncs++;
    } catch (error) {
      // Not expected (the device is open and the hull inside it), but a fence must complete.
      pending.synced = true;
      pending.error ??= error as Error;
      setImmediate(() => this.#deliverFences());
    }
  }

  /** Completes, in issue order, every pending fence whose msync and all earlier ones' returned. */
  #deliverFences(): void {
    const fences = this.#pendingFences;
    while (fences.length > 0 && (fences[0] as PendingFence).synced) {
      const done = fences.shift() as PendingFence;
      if (done.error !== null) for (const later of fences) later.error ??= done.error;
      let returned = false;
      try {
        done.onComplete(done.error);
        returned = true;
      } finally {
        // A callback that threw must not strand the completions behind it.
        if (!returned && fences.length > 0) setImmediate(() => this.#deliverFences());
      }
    }
  }

  /**
   * Told the duration of each msync, in ms (the daemon's fence-latency metric); null: not timed.
   */
  onSync: ((ms: number) => void) | null = null;

  #msync(offset: number, length: number): void {
    if (this.onSync === null) {
      this.#native.msync(offset, length);
    } else {
      const start = performance.now();
      this.#native.msync(offset, length);
      this.onSync(performance.now() - start);
    }
    this.#msyncs++;
  }

  /**
   * msync calls made so far: every fence, fenceAsync (counted at its issue) and persist that had
   * pages to write in 'power' durability (what group commit saves; none in 'process'), plus the
   * one of close.
   */
  get msyncCount(): number {
    return this.#msyncs;
  }

  persist(offset: number, length: number): void {
    this.#checkRange('persist', offset, length);
    if (this.durability !== 'power' || length === 0) return;
    if (this.#flushEnd > this.#flushStart || this.#pendingFences.length > 0) {
      this.flush(offset, length);
      this.fence();
      return;
    }
    this.#msync(offset, length); // native rounds out to whole pages
  }

  /**
   * Idempotent. msyncs the whole mapping once (in 'process' durability too: nothing else would
   * see a write-back error), waits for any fenceAsync msync still running on a pool thread, then
   * unmaps it and releases the lock. A failed msync throws NvramError NVRAM_IO after the device
   * is closed and unlocked all the same. Pending fenceAsync calls still complete afterwards.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Every fast check compares against these; -1 sends every access to the slow path,
    // which reports NVRAM_CLOSED.
    this.#loadLast4 = this.#loadLast8 = this.#storeLast4 = this.#storeLast8 = this.#accessEnd = -1;
    this.#flushStart = this.#flushEnd = 0;
    this.#u8 = new Uint8Array(0);
    this.#u32 = new Uint32Array(0);
    this.#f64 = new Float64Array(0);
    this.#msyncs++;
    this.#native.close();
  }

  #site(method: string): Site {
    return { label: this.path, method };
  }

  #checkOpen(method: string): void {
    if (this.#closed) fail(this.#site(method), 'NVRAM_CLOSED', 'the device is closed');
  }

  #checkRange(method: string, offset: number, length: number): void {
    this.#checkOpen(method);
    if (
      typeof offset !== 'number' ||
      typeof length !== 'number' ||
      !Number.isInteger(offset) ||
      !Number.isInteger(length) ||
      !(offset >= headerBytes) ||
      !(length >= 0) ||
      offset + length > this.sizeBytes
    ) {
      requireRange(this.#site(method), offset, length, headerBytes, this.sizeBytes);
    }
  }

  #failAccess(
    method: string,
    offset: unknown,
    length: number,
    alignment: number,
    lowest: number,
  ): never {
    this.#checkOpen(method);
    return failAccess(this.#site(method), offset, length, alignment, lowest, this.sizeBytes);
  }

  #failBytes(method: string, name: string, value: unknown): never {
    this.#checkOpen(method);
    requireBytes(this.#site(method), name, value);
    throw new Error(`${this.path}: ${method}: ${name} passed its check (bug)`);
  }

  /** Slow path of storeBytes: an empty store at a valid offset is a no-op; all else throws. */
  #checkEmptyStore(offset: unknown, length: number): void {
    this.#checkOpen('storeBytes');
    const at = requireCount(this.#site('storeBytes'), 'offset', offset);
    if (length === 0 && at <= this.sizeBytes) return;
    failAccess(this.#site('storeBytes'), at, length, 1, headerBytes, this.sizeBytes);
  }

  #failSlice(method: string, source: Uint8Array, start: unknown, end: unknown): never {
    this.#checkOpen(method);
    const site = this.#site(method);
    const from = start === undefined ? 0 : requireCount(site, 'start', start);
    const to = end === undefined ? source.length : requireCount(site, 'end', end);
    fail(
      site,
      'NVRAM_OUT_OF_RANGE',
      `[start, end) = [${from}, ${to}) is not inside the ${source.length}-byte source`,
    );
  }

  /** Widens the hull the next fence msyncs by a flushed range, rounded out to pages. */
  #noteFlushed(offset: number, length: number): void {
    const start = Math.floor(offset / pageBytes) * pageBytes;
    const end = Math.min(this.sizeBytes, Math.ceil((offset + length) / pageBytes) * pageBytes);
    if (this.#flushEnd === this.#flushStart) {
      this.#flushStart = start;
      this.#flushEnd = end;
      return;
    }
    if (start < this.#flushStart) this.#flushStart = start;
    if (end > this.#flushEnd) this.#flushEnd = end;
  }
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

/** Typed-array word views assume the host byte order is the device's (little-endian). */
function assertLittleEndian(): void {
  assert(
    new Uint8Array(new Uint16Array([1]).buffer)[0] === 1,
    'nvrelay needs a little-endian host',
  );
}

// ---- what a path that is not a device file is ----

/** What a file-system entry is, in words ("a directory", "a socket", ...). */
export function fileKind(stats: Stats): string {
  if (stats.isFile()) return 'a regular file';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isFIFO()) return 'a named pipe';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Throws NvramError NVRAM_NOT_A_FILE when `path` names a directory, a device node, a pipe or a
 * socket (a device is a regular file), saying which; NVRAM_FILE_MISSING when nothing is there,
 * unless `mayBeMissing` (then the caller reports or creates it).
 */
export function requireDeviceFile(path: string, options: { mayBeMissing?: boolean } = {}): void {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      if (options.mayBeMissing === true) return;
      throw new NvramError('NVRAM_FILE_MISSING', `nvram: ${path}: no such device file`);
    }
    throw new NvramError('NVRAM_IO', `nvram: ${path}: cannot stat: ${(error as Error).message}`);
  }
  if (!stats.isFile()) {
    throw new NvramError(
      'NVRAM_NOT_A_FILE',
      `nvram: ${path}: is ${fileKind(stats)}, not a device file`,
    );
  }
}

/** Well-known file signatures, so a bad magic can say what the file looks like instead. */
const signatures: ReadonlyArray<readonly [number[], string]> = [
  [[0x7f, 0x45, 0x4c, 0x46], 'an ELF binary'],
  [[0x1f, 0x8b], 'gzip data'],
  [[0x50, 0x4b, 0x03, 0x04], 'a zip archive'],
  [[0x89, 0x50, 0x4e, 0x47], 'a PNG image'],
  [[0x25, 0x50, 0x44, 0x46], 'a PDF document'],
  [[0x53, 0x51, 0x4c, 0x69, 0x74, 0x65, 0x20, 0x66], 'an SQLite database'],
];

/**
 * The message for a header whose magic is not `NVRLDEV1`: the first bytes in hex (never as
 * raw text, which may hold control characters), and what the file looks like when that is known.
 */
export function foreignMagic(start: Uint8Array): string {
  const bytes = [...start.subarray(0, 8)];
  const hex = bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(' ');
  const known = signatures.find(([magic]) => magic.every((byte, index) => bytes[index] === byte));
  const text =
    bytes.length > 0 &&
    bytes.every(
      (byte) => byte === 0x09 || byte === 0x0a || byte === 0x0d || (byte >= 0x20 && byte < 0x7f),
    );
  const looks =
    known !== undefined ? `; it looks like ${known[1]}` : text ? '; it looks like text' : '';
  return `not an nvrelay device: it starts with ${hex}, not the magic NVRLDEV1${looks}`;
}

/** The first 8 bytes of a file (fewer if it is shorter), or null if it cannot be read. */
function readStart(path: string): Uint8Array | null {
  try {
    const fd = openSync(path, 'r');
    try {
      const start = new Uint8Array(8);
      return start.subarray(0, readSync(fd, start, 0, 8, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}
