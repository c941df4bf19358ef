/**
 * TracedNvram: the crash-lab device (SPEC 3, traced mode). It lives in memory; the addon keeps
 * a volatile image (what loads see) and a durable image, and every store, flush and fence is
 * one native call = one counted instruction. A power cut at instruction k makes that call throw
 * PowerCutError; afterwards the lab asks the addon which post-crash images the model allows,
 * builds them, and boots a new TracedNvram from each (`fromImage`).
 *
 * Loads never cross into native: they read the volatile image through typed arrays. While load
 * recording is on, each load also marks the 8-byte words it read, so the lab can tell which
 * words recovery depended on (issue 4: crash images differing only in unread words are one state).
 *
 * An asynchronous fence is two instructions (native/traced_device.h): its issue, now, and its
 * completion, later, so the lab cuts between them too. `asyncFenceCompletion` says when the
 * completion runs: on the next turn (default) or when the owner calls `completeFence`.
 */
import type {
  HeaderInfo,
  NativeTracedDevice,
  PersistencyModel,
  SectionInfo,
  SectionSpec,
  TraceLog,
  WordStoreList,
} from './addon-api.js';
import { addon } from './addon.js';
import {
  describe,
  fail,
  failAccess,
  headerBytes,
  requireBoolean,
  requireBytes,
  requireCount,
  requireLayout,
  requireModel,
  requireOptions,
  requireRange,
  requireString,
  requireU32Value,
  requireWordValue,
  wordBytes,
  type Site,
  requireFunction,
} from './arguments.js';
import type { NvramDevice } from './device.js';
import { NvramError, PowerCutError } from './errors.js';
import { SectionTable } from './section-table.js';

export interface TracedFormatOptions {
  /** Names the device in the header and binds its boot slots; default 1 (deterministic). */
  deviceId?: bigint;
  /** Record the instruction trace for exportTrace (default false). */
  record?: boolean;
}

export interface TracedImageOptions {
  /** Names the device in error messages (default `traced device <id>`). */
  label?: string;
  record?: boolean;
  /** Count a boot (a reboot after a crash) before returning; default true. */
  boot?: boolean;
}

/**
 * When an asynchronous fence completes: 'next-turn' on setImmediate, in issue order; 'manual'
 * once the owner calls `completeFence` (oldest first), for workloads that run synchronously.
 */
export type AsyncFenceCompletion = 'next-turn' | 'manual';

interface PendingFence {
  /** The issue's instruction index (the native device's name for it). */
  readonly issue: number;
  readonly onComplete: (error: Error | null) => void;
}

const twoTo32 = 2 ** 32;
const defaultDeviceId = 1n;
/** Traced devices keep two images in memory (volatile and durable), plus the caller's. */
const tracedDeviceBytesMax = 2 ** 30;

export class TracedNvram implements NvramDevice {
  readonly kind = 'traced' as const;
  readonly sizeBytes: number;
  readonly label: string;
  /** The native device, for lab code that drives it directly (e.g. applyTrace in bulk). */
  readonly native: NativeTracedDevice;

  #header: HeaderInfo;
  readonly #sections: SectionTable;
  #u8: Uint8Array;
  #u32: Uint32Array;
  readonly #scratch = new Uint8Array(8);
  readonly #scratch4 = this.#scratch.subarray(0, 4);
  /** Word view of #scratch (the host is little-endian, like the device; asserted in direct.ts). */
  readonly #scratchWords = new Uint32Array(this.#scratch.buffer);
  /** One byte per word while recording loads, else null. */
  #loadMarks: Uint8Array | null = null;
  /** Fast-check limits; -1 once closed or powered off, so every access takes the slow path. */
  #loadLast4: number;
  #loadLast8: number;
  #accessEnd: number;
  #closed = false;
  #poweredOff = false;
  #asyncFenceCompletion: AsyncFenceCompletion = 'next-turn';
  /** Issued asynchronous fences not yet completed, oldest first. */
  #pendingFences: PendingFence[] = [];

  /** A new in-memory device, formatted and booted once (like DirectNvram.format + open). */
  static format(
    sizeBytes: number,
    sections: SectionSpec[],
    options?: TracedFormatOptions,
  ): TracedNvram {
    const site = { label: 'traced device', method: 'format' };
    const fields = requireOptions(site, options, ['deviceId', 'record']);
    const layout = requireLayout(site, sizeBytes, sections);
    const deviceId = fields['deviceId'] ?? defaultDeviceId;
    if (typeof deviceId !== 'bigint' || deviceId < 0n || deviceId >= 2n ** 64n) {
      fail(
        site,
        'NVRAM_BAD_ARGUMENT',
        `deviceId must be a bigint in [0, 2^64), got ${describe(deviceId)}`,
      );
    }
    const record = requireBoolean(site, 'record', fields['record'] ?? false);
    if (sizeBytes > tracedDeviceBytesMax) {
      fail(
        site,
        'NVRAM_BAD_SIZE',
        `a traced device lives in memory: at most 1 GiB, got ${sizeBytes}`,
      );
    }
    const image = new Uint8Array(sizeBytes);
    addon.formatImage(image, layout, deviceId);
    return TracedNvram.fromImage(image, { record, boot: true });
  }

  /** A device whose volatile and durable images start as a copy of `image` (validated). */
  static fromImage(image: Uint8Array, options?: TracedImageOptions): TracedNvram {
    const site = { label: 'traced device', method: 'fromImage' };
    const fields = requireOptions(site, options, ['label', 'record', 'boot']);
    requireBytes(site, 'image', image);
    const record = requireBoolean(site, 'record', fields['record'] ?? false);
    const boot = requireBoolean(site, 'boot', fields['boot'] ?? true);
    const given =
      fields['label'] === undefined ? undefined : requireString(site, 'label', fields['label']);
    const header = addon.parseHeader(image, given ?? 'traced device');
    const label = given ?? `traced device ${header.deviceId.toString(16).padStart(16, '0')}`;
    const native = new addon.TracedDevice(image, record);
    return new TracedNvram(native, header, label, boot);
  }

  private constructor(
    native: NativeTracedDevice,
    header: HeaderInfo,
    label: string,
    boot: boolean,
  ) {
    this.native = native;
    this.label = label;
    this.sizeBytes = native.sizeBytes;
    assert(this.sizeBytes === header.sizeBytes, `${label}: image size differs from its header`);
    this.#sections = new SectionTable(header, label);
    this.#header = boot ? { ...header, bootCount: native.boot() } : header;
    this.#u8 = new Uint8Array(native.buffer);
    this.#u32 = new Uint32Array(native.buffer);
    this.#loadLast4 = this.sizeBytes - 4;
    this.#loadLast8 = this.sizeBytes - 8;
    this.#accessEnd = this.sizeBytes;
  }

  get header(): HeaderInfo {
    return this.#header;
  }

  get closed(): boolean {
    return this.#closed;
  }

  section(name: string): SectionInfo {
    this.#checkUsable('section');
    return this.#sections.find(name, 'section');
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
    if (this.#loadMarks !== null) this.#loadMarks[Math.floor(offset / wordBytes)] = 1;
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
    if (this.#loadMarks !== null) this.#loadMarks[offset / wordBytes] = 1;
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
    if (this.#loadMarks !== null && length > 0) {
      this.#loadMarks.fill(
        1,
        Math.floor(offset / wordBytes),
        Math.ceil((offset + length) / wordBytes),
      );
    }
    target.set(this.#u8.subarray(offset, offset + length));
  }

  storeU32(offset: number, value: number): void {
    if (
      typeof offset !== 'number' ||
      offset % 4 !== 0 ||
      !(offset >= headerBytes) ||
      offset > this.#accessEnd - 4
    ) {
      this.#failAccess('storeU32', offset, 4, 4, headerBytes);
    }
    if (typeof value !== 'number' || !(value >>> 0 === value))
      requireU32Value(this.#site('storeU32'), value);
    this.#scratchWords[0] = value;
    this.#store(offset, this.#scratch4);
  }

  storeU64(offset: number, value: number): void {
    if (
      typeof offset !== 'number' ||
      offset % 8 !== 0 ||
      !(offset >= headerBytes) ||
      offset > this.#accessEnd - 8
    ) {
      this.#failAccess('storeU64', offset, 8, 8, headerBytes);
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      requireWordValue(this.#site('storeU64'), value);
    }
    const low = value % twoTo32;
    this.#scratchWords[0] = low;
    this.#scratchWords[1] = (value - low) / twoTo32;
    this.#store(offset, this.#scratch);
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
      this.#failSlice(source, start, end);
    }
    const length = to - from;
    if (
      typeof offset !== 'number' ||
      !Number.isInteger(offset) ||
      !(offset >= headerBytes) ||
      offset + length > this.#accessEnd
    ) {
      this.#checkUsable('storeBytes');
      requireRange(this.#site('storeBytes'), offset, length, headerBytes, this.sizeBytes);
    }
    this.#store(offset, from === 0 && to === source.length ? source : source.subarray(from, to));
  }

  flush(offset: number, length: number): void {
    if (
      typeof offset !== 'number' ||
      typeof length !== 'number' ||
      !Number.isInteger(offset) ||
      !Number.isInteger(length) ||
      !(offset >= headerBytes) ||
      !(length >= 0) ||
      offset + length > this.#accessEnd
    ) {
      this.#checkUsable('flush');
      requireRange(this.#site('flush'), offset, length, headerBytes, this.sizeBytes);
    }
    try {
      this.native.flush(offset, length);
    } catch (error) {
      this.#nativeFailed(error);
    }
  }

  fence(): void {
    if (this.#accessEnd < 0) this.#checkUsable('fence');
    try {
      this.native.fence();
    } catch (error) {
      this.#nativeFailed(error);
    }
  }

  /**
   * Issues the fence now (an instruction: a power cut there throws PowerCutError, as `fence`
   * does) and completes it later as its own instruction, per `asyncFenceCompletion`. A power cut
   * before the completion drops it: `onComplete` is never called, the machine is off. On a
   * closed device, or one closed before the completion, `onComplete` gets NVRAM_CLOSED on the
   * next turn.
   */
  fenceAsync(onComplete: (error: Error | null) => void): void {
    requireFunction(this.#site('fenceAsync'), 'onComplete', onComplete);
    if (this.#closed) {
      this.#reportClosed([onComplete]);
      return;
    }
    if (this.#accessEnd < 0) this.#checkUsable('fenceAsync');
    let issue: number;
    try {
      issue = this.native.fenceIssue();
    } catch (error) {
      this.#nativeFailed(error);
    }
    this.#pendingFences.push({ issue, onComplete });
    if (this.#asyncFenceCompletion === 'next-turn') setImmediate(() => this.#completeOnNextTurn());
  }

  /** SPEC 3: persist = flush + fence, two instructions. */
  persist(offset: number, length: number): void {
    this.flush(offset, length);
    this.fence();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cutOffAccess();
    this.#loadMarks = null;
    const pending = this.#pendingFences;
    this.#pendingFences = [];
    if (!this.native.poweredOff) this.#reportClosed(pending.map((fence) => fence.onComplete));
    this.native.close(); // free the images now: the crash lab boots thousands of devices
  }

  // ---- crash-lab surface (not part of NvramDevice) ----

  get instructionCount(): number {
    return this.native.instructionCount;
  }

  get poweredOff(): boolean {
    return this.native.poweredOff;
  }

  /** When asynchronous fences complete; changed only while none is pending (NVRAM_BAD_ARGUMENT). */
  get asyncFenceCompletion(): AsyncFenceCompletion {
    return this.#asyncFenceCompletion;
  }

  set asyncFenceCompletion(mode: AsyncFenceCompletion) {
    const site = this.#site('asyncFenceCompletion');
    if (mode !== 'next-turn' && mode !== 'manual') {
      fail(site, 'NVRAM_BAD_ARGUMENT', `must be 'next-turn' or 'manual', got ${describe(mode)}`);
    }
    if (mode !== this.#asyncFenceCompletion && this.#pendingFences.length > 0) {
      fail(
        site,
        'NVRAM_BAD_ARGUMENT',
        `${this.#pendingFences.length} asynchronous fence(s) pending: change the mode before issuing`,
      );
    }
    this.#asyncFenceCompletion = mode;
  }

  /** Asynchronous fences issued and not yet completed (nor dropped by a power cut or close). */
  get pendingFences(): number {
    return this.#pendingFences.length;
  }

  /**
   * Completes the oldest pending asynchronous fence (one instruction) and calls its
   * `onComplete`; false if none is pending. A power cut at the completion throws PowerCutError
   * and drops every pending fence.
   */
  completeFence(): boolean {
    this.#checkOpen('completeFence');
    const fence = this.#pendingFences.shift();
    if (fence === undefined) return false;
    let error: Error | null = null;
    try {
      this.native.fenceComplete(fence.issue);
    } catch (caught) {
      if (caught instanceof PowerCutError) this.#nativeFailed(caught);
      error = caught as Error;
    }
    fence.onComplete(error);
    return true;
  }

  /** Cut power when the instruction counter reaches k (that instruction does not run); -1 clears. */
  setPowerCut(k: number): void {
    this.#checkOpen('setPowerCut');
    if (k !== -1) requireCount(this.#site('setPowerCut'), 'k', k);
    this.native.setPowerCut(k);
  }

  imageCount(model: PersistencyModel): number {
    this.#checkOpen('imageCount');
    return this.native.imageCount(requireModel(this.#site('imageCount'), model));
  }

  pendingStores(): WordStoreList {
    this.#checkOpen('pendingStores');
    return this.native.pendingStores();
  }

  survivorsByIndex(model: PersistencyModel, index: number): Float64Array {
    this.#checkOpen('survivorsByIndex');
    const site = this.#site('survivorsByIndex');
    return this.native.survivorsByIndex(
      requireModel(site, model),
      requireCount(site, 'index', index),
    );
  }

  survivorsBySeed(model: PersistencyModel, seed: number): Float64Array {
    this.#checkOpen('survivorsBySeed');
    const site = this.#site('survivorsBySeed');
    return this.native.survivorsBySeed(requireModel(site, model), requireCount(site, 'seed', seed));
  }

  allows(model: PersistencyModel, survivorIds: Float64Array): boolean {
    this.#checkOpen('allows');
    const site = this.#site('allows');
    return this.native.allows(requireModel(site, model), requireIds(site, survivorIds));
  }

  /** Durable image + the given surviving word-stores; into `out` (allocated if absent). */
  buildImage(survivorIds: Float64Array, out?: Uint8Array): Uint8Array {
    this.#checkOpen('buildImage');
    const site = this.#site('buildImage');
    const image = this.#imageTarget(site, out);
    this.native.buildImage(requireIds(site, survivorIds), image);
    return image;
  }

  buildDurableImage(out?: Uint8Array): Uint8Array {
    this.#checkOpen('buildDurableImage');
    const image = this.#imageTarget(this.#site('buildDurableImage'), out);
    this.native.buildDurableImage(image);
    return image;
  }

  /** Media fault: flip `count` seeded-random bits in [offset, offset+length), durable and volatile. */
  flipBits(offset: number, length: number, count: number, seed: number): void {
    this.#checkOpen('flipBits');
    const site = this.#site('flipBits');
    requireRange(site, offset, length, 0, this.sizeBytes);
    this.native.flipBits(
      offset,
      length,
      requireCount(site, 'count', count),
      requireCount(site, 'seed', seed),
    );
  }

  /** Media fault: the whole device is lost (battery failure); both images become zero. */
  loseDevice(): void {
    this.#checkOpen('loseDevice');
    this.native.loseDevice();
  }

  exportTrace(): TraceLog {
    this.#checkOpen('exportTrace');
    return this.native.exportTrace();
  }

  /** Executes instructions [from, to) of `trace` natively (default: all of it). */
  applyTrace(trace: TraceLog, from?: number, to?: number): void {
    this.#checkUsable('applyTrace');
    const site = this.#site('applyTrace');
    if (typeof trace !== 'object' || trace === null || !(trace.kinds instanceof Uint8Array)) {
      fail(site, 'NVRAM_BAD_ARGUMENT', `trace must be a TraceLog, got ${describe(trace)}`);
    }
    const first = from === undefined ? 0 : requireCount(site, 'from', from);
    const last = to === undefined ? trace.kinds.length : requireCount(site, 'to', to);
    try {
      this.native.applyTrace(trace, first, last);
    } catch (error) {
      this.#nativeFailed(error);
    }
  }

  /** Starts marking the words every load reads (clears earlier marks). */
  startLoadRecording(): void {
    this.#checkOpen('startLoadRecording');
    this.#loadMarks = new Uint8Array(Math.ceil(this.sizeBytes / wordBytes));
  }

  /** Stops recording; one byte per 8-byte word of the device, 1 = a load read that word. */
  stopLoadRecording(): Uint8Array {
    this.#checkOpen('stopLoadRecording');
    const marks = this.#loadMarks;
    if (marks === null)
      fail(this.#site('stopLoadRecording'), 'NVRAM_BAD_ARGUMENT', 'load recording was not started');
    this.#loadMarks = null;
    return marks;
  }

  // ---- internals ----

  /** One store instruction. */
  #store(offset: number, bytes: Uint8Array): void {
    try {
      this.native.store(offset, bytes);
    } catch (error) {
      this.#nativeFailed(error);
    }
  }

  /** A power cut poisons loads too: the machine is off. */
  #nativeFailed(error: unknown): never {
    if (error instanceof PowerCutError) this.#powerOff();
    throw error;
  }

  #powerOff(): void {
    this.#poweredOff = true;
    this.#cutOffAccess();
    this.#pendingFences = []; // the machine is off: no completion will run
  }

  /** One scheduled completion ('next-turn'); a power cut meanwhile, or at it, drops it. */
  #completeOnNextTurn(): void {
    if (this.#closed) return; // close reported it already
    if (this.native.poweredOff) {
      this.#powerOff();
      return;
    }
    try {
      this.completeFence();
    } catch (error) {
      if (!(error instanceof PowerCutError)) throw error;
    }
  }

  #reportClosed(callbacks: ((error: Error | null) => void)[]): void {
    if (callbacks.length === 0) return;
    const message = `nvram: ${this.label}: fenceAsync: the device is closed`;
    setImmediate(() => {
      for (const onComplete of callbacks) onComplete(new NvramError('NVRAM_CLOSED', message));
    });
  }

  #cutOffAccess(): void {
    this.#loadLast4 = this.#loadLast8 = this.#accessEnd = -1;
  }

  #site(method: string): Site {
    return { label: this.label, method };
  }

  #checkOpen(method: string): void {
    if (this.#closed) fail(this.#site(method), 'NVRAM_CLOSED', 'the device is closed');
  }

  /** Open and powered: the runtime's operations need both. */
  #checkUsable(method: string): void {
    this.#checkOpen(method);
    if (this.#poweredOff) {
      throw new PowerCutError(
        `${this.label}: ${method}: power was cut at instruction ${this.native.instructionCount}`,
        this.native.instructionCount,
      );
    }
  }

  #failAccess(
    method: string,
    offset: unknown,
    length: number,
    alignment: number,
    lowest: number,
  ): never {
    this.#checkUsable(method);
    return failAccess(this.#site(method), offset, length, alignment, lowest, this.sizeBytes);
  }

  #failBytes(method: string, name: string, value: unknown): never {
    this.#checkUsable(method);
    requireBytes(this.#site(method), name, value);
    throw new Error(`${this.label}: ${method}: ${name} passed its check (bug)`);
  }

  #failSlice(source: Uint8Array, start: unknown, end: unknown): never {
    this.#checkUsable('storeBytes');
    const site = this.#site('storeBytes');
    const from = start === undefined ? 0 : requireCount(site, 'start', start);
    const to = end === undefined ? source.length : requireCount(site, 'end', end);
    fail(
      site,
      'NVRAM_OUT_OF_RANGE',
      `[start, end) = [${from}, ${to}) is not inside the ${source.length}-byte source`,
    );
  }

  #imageTarget(site: Site, out: Uint8Array | undefined): Uint8Array {
    if (out === undefined) return new Uint8Array(this.sizeBytes);
    requireBytes(site, 'out', out);
    if (out.length !== this.sizeBytes) {
      fail(site, 'NVRAM_BAD_ARGUMENT', `out must be ${this.sizeBytes} bytes, got ${out.length}`);
    }
    return out;
  }
}

function requireIds(site: Site, ids: unknown): Float64Array {
  if (!(ids instanceof Float64Array)) {
    fail(site, 'NVRAM_BAD_ARGUMENT', `survivorIds must be a Float64Array, got ${describe(ids)}`);
  }
  return ids;
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
