/**
 * The event record [111] as it lies in a FIFO slot. Declared once, with byte offsets; the
 * layout table in docs/ARCHITECTURE.md is this file in prose. All integers little-endian.
 *
 * | off | size | field | |
 * |---:|---:|---|---|
 * | 0 | 8 | confirmation mask | outside the CRC: one bit per recipient, set by one atomic word store per confirmation [216] |
 * | 8 | 4 | crc32c | over bytes [12, recordBytes) |
 * | 12 | 2 | recordBytes | 64 + sourceBytes + typeBytes + detailsBytes (+ the origin trail's bytes) |
 * | 14 | 1 | severity | syslog level 0..7 |
 * | 15 | 1 | flags | bit 0: a dead letter re-delivered by an operator; bit 1: offset 48 is a producer counter; bit 2: an origin trail follows the details |
 * | 16 | 8 | position | the FIFO counter the record was appended at (rejects stale laps) |
 * | 24 | 8 | seq | unique and increasing across reboots (SPEC 4.5) |
 * | 32 | 8 | time | ms since the epoch, float64 |
 * | 40 | 8 | intended mask | recipients fixed at emit time [160] |
 * | 48 | 8 | originalSeq | for a re-delivered dead letter, the seq it was first emitted as; else 0 |
 * | 56 | 1 | sourceBytes | |
 * | 57 | 1 | typeBytes | |
 * | 58 | 2 | detailsBytes | |
 * | 60 | 4 | tag | `NVE1` (0x3145564e): record format version |
 * | 64 | ... | source, type, details | |
 * | ... | 1 + 16 hops | origin trail | flag bit 2 only: the path of a relayed event (./origin.ts) |
 *
 * The origin trail counts against detailsBytesMax (details + trail), so the slot size of a
 * device does not depend on it.
 */
import { recipientsMax, seqMax, sourceBytesMax, typeBytesMax } from '../constants.js';
import { assert } from './assert.js';
import { crc32cWords } from './crc32c.js';
import { wasmCrcBuffer } from './crc32c-wasm.js';
import { decodeName } from './names.js';
import {
  decodeOrigin,
  encodeOrigin,
  originBytes,
  originHopsAt,
  originSeqsValid,
  type OriginHop,
} from './origin.js';

export const recordOffsets = Object.freeze({
  confirmLo: 0,
  confirmHi: 4,
  crc: 8,
  recordBytes: 12,
  severity: 14,
  flags: 15,
  position: 16,
  seq: 24,
  time: 32,
  intendedLo: 40,
  intendedHi: 44,
  originalSeq: 48,
  sourceBytes: 56,
  typeBytes: 57,
  detailsBytes: 58,
  tag: 60,
  names: 64,
});

export const recordHeaderBytes = 64;
/** The CRC covers everything after itself: the confirmation word changes after publication. */
export const recordCrcStart = 12;
export const recordTag = 0x3145564e;
export const recordFlagRedelivery = 1;
/**
 * The record's offset 48 holds its producer's own emit counter instead of an original seq: a
 * remote producer's counter, so a daemon that restarts recognises an emit sent again
 * (docs/PROTOCOL.md, "Re-sent emits").
 */
export const recordFlagProducerCounter = 2;
/** An origin trail follows the details: a relayed event's path (./origin.ts, src/mux). */
export const recordFlagOrigin = 4;
const recordFlagsKnown = recordFlagRedelivery | recordFlagProducerCounter | recordFlagOrigin;
const twoTo32 = 2 ** 32;

/** Largest record for a details limit (the slot size before rounding up to a line). */
export function recordBytesMax(detailsBytesMax: number): number {
  return recordHeaderBytes + sourceBytesMax + typeBytesMax + detailsBytesMax;
}

export function setU64(view: DataView, offset: number, value: number): void {
  const low = value % twoTo32;
  view.setUint32(offset, low, true);
  view.setUint32(offset + 4, (value - low) / twoTo32, true);
}

export function getU64(view: DataView, offset: number): number {
  return view.getUint32(offset + 4, true) * twoTo32 + view.getUint32(offset, true);
}

/**
 * A buffer records are encoded in and checked from: three views of the same memory (the
 * Int32Array lets the CRC load words; byteOffset and length multiples of 8), and its CRC32C.
 */
export interface RecordBuffer {
  bytes: Uint8Array;
  view: DataView;
  words: Int32Array;
  /** CRC32C of bytes [offset, offset + length); offset a multiple of 4. */
  crc: (offset: number, length: number) => number;
}

/** Views over `bytes`, checksummed in TypeScript (tests and tools). */
export function recordBuffer(bytes: Uint8Array): RecordBuffer {
  assert(bytes.byteOffset % 8 === 0 && bytes.byteLength % 8 === 0, 'record buffer alignment');
  const words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return {
    bytes,
    view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    words,
    crc: (offset, length) => crc32cWords(words, bytes, offset, length),
  };
}

/**
 * Where record buffers live and which CRC32C seals them (`NodeOptions.checksum`):
 * 'webassembly' (the default) puts each buffer in its own WebAssembly memory with its own CRC
 * instance, the faster checksum per event; 'typescript' uses plain memory and the TypeScript
 * CRC (the same values), so a buffer costs no module instance and no address-space reservation:
 * for callers that boot thousands of nodes, like the crash lab.
 */
export type ChecksumEngine = 'webassembly' | 'typescript';

/** A new zeroed buffer for the runtime: in WebAssembly memory with its own CRC when possible. */
export function allocateRecordBuffer(
  byteLength: number,
  checksum: ChecksumEngine = 'webassembly',
): RecordBuffer {
  const wasm = checksum === 'webassembly' ? wasmCrcBuffer(byteLength) : null;
  if (wasm === null) return recordBuffer(new Uint8Array(byteLength));
  const bytes = wasm.bytes;
  return {
    bytes,
    view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    words: new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4),
    crc: wasm.crc,
  };
}

/**
 * Encodes one record at `base` (a multiple of 8) of `buffer` (the FIFO's volatile shadow of a
 * slot) and seals it with its CRC; returns recordBytes. The caller has already written the time
 * (offset 32: a float64 passed as an argument would be boxed). Hot path: no allocation. The
 * confirmation word is zeroed in the same store that writes the record (step 213).
 */
export function writeRecord(
  buffer: RecordBuffer,
  base: number,
  position: number,
  seq: number,
  severity: number,
  flags: number,
  intendedLo: number,
  intendedHi: number,
  originalSeq: number,
  source: Uint8Array,
  type: Uint8Array,
  details: Uint8Array | null,
  origin: Uint8Array | null = null,
): number {
  const bytes = buffer.bytes;
  const view = buffer.view;
  const detailsBytes = details === null ? 0 : details.length;
  const recordBytes =
    recordHeaderBytes +
    source.length +
    type.length +
    detailsBytes +
    (origin === null ? 0 : origin.length);
  view.setUint32(base, 0, true);
  view.setUint32(base + 4, 0, true);
  view.setUint16(base + 12, recordBytes, true);
  bytes[base + 14] = severity;
  bytes[base + 15] = flags;
  setU64(view, base + 16, position);
  setU64(view, base + 24, seq);
  view.setInt32(base + 40, intendedLo, true);
  view.setInt32(base + 44, intendedHi, true);
  setU64(view, base + 48, originalSeq);
  bytes[base + 56] = source.length;
  bytes[base + 57] = type.length;
  view.setUint16(base + 58, detailsBytes, true);
  view.setUint32(base + 60, recordTag, true);
  let at = base + recordHeaderBytes;
  bytes.set(source, at);
  at += source.length;
  bytes.set(type, at);
  if (details !== null) bytes.set(details, at + type.length);
  if (origin !== null) bytes.set(origin, at + type.length + detailsBytes);
  view.setUint32(base + 8, buffer.crc(base + recordCrcStart, recordBytes - recordCrcStart), true);
  return recordBytes;
}

/** Why a slot's bytes are not a record that may be delivered (recovery's decision table). */
export const RecordVerdict = Object.freeze({
  valid: 0,
  badTag: 1,
  badLength: 2,
  badChecksum: 3,
  badPosition: 4,
  badField: 5,
});

export const recordVerdictNames = [
  'valid',
  'bad-tag',
  'bad-length',
  'bad-checksum',
  'bad-position',
  'bad-field',
] as const;

export interface RecordLimits {
  slotBytes: number;
  detailsBytesMax: number;
  recipientsMax: number;
}

/**
 * Validates the record at `base` (SPEC 5.5: never trust NVRAM). `position` is the FIFO counter
 * the slot must hold, or -1 to skip that check (dead-letter copies). Tag and length are checked
 * before the CRC so the CRC range is always inside the slot.
 */
export function checkRecord(
  buffer: RecordBuffer,
  base: number,
  position: number,
  limits: RecordLimits,
): number {
  const bytes = buffer.bytes;
  const view = buffer.view;
  if (view.getUint32(base + 60, true) !== recordTag) return RecordVerdict.badTag;
  const recordBytes = view.getUint16(base + 12, true);
  const sourceBytes = bytes[base + 56] as number;
  const typeBytes = bytes[base + 57] as number;
  const detailsBytes = view.getUint16(base + 58, true);
  const trailBytes = originTrailBytes(buffer.bytes, base, limits.slotBytes);
  if (
    trailBytes < 0 ||
    recordBytes !== recordHeaderBytes + sourceBytes + typeBytes + detailsBytes + trailBytes ||
    recordBytes > limits.slotBytes ||
    detailsBytes + trailBytes > limits.detailsBytesMax
  ) {
    return RecordVerdict.badLength;
  }
  const crc = buffer.crc(base + recordCrcStart, recordBytes - recordCrcStart);
  if (crc !== view.getUint32(base + 8, true)) return RecordVerdict.badChecksum;
  if (position >= 0 && getU64(view, base + 16) !== position) return RecordVerdict.badPosition;
  return checkFields(bytes, view, base, limits) ? RecordVerdict.valid : RecordVerdict.badField;
}

/**
 * The origin trail's bytes (0 without flag bit 2), read before the CRC is checked so that the
 * CRC's range stays inside the slot; -1 if the hop count is out of range or past the slot.
 */
function originTrailBytes(bytes: Uint8Array, base: number, slotBytes: number): number {
  if (((bytes[base + 15] as number) & recordFlagOrigin) === 0) return 0;
  const at = originOffset(bytes, base);
  const hops = originHopsAt(bytes, at, base + slotBytes);
  return hops === 0 ? -1 : originBytes(hops);
}

/** Where the origin trail starts: right after the details. */
function originOffset(bytes: Uint8Array, base: number): number {
  const detailsBytes = (bytes[base + 58] as number) | ((bytes[base + 59] as number) << 8);
  return (
    base +
    recordHeaderBytes +
    (bytes[base + 56] as number) +
    (bytes[base + 57] as number) +
    detailsBytes
  );
}

function checkFields(
  bytes: Uint8Array,
  view: DataView,
  base: number,
  limits: RecordLimits,
): boolean {
  const seq = getU64(view, base + 24);
  const time = view.getFloat64(base + 32, true);
  const sourceBytes = bytes[base + 56] as number;
  const typeBytes = bytes[base + 57] as number;
  const names = base + recordHeaderBytes;
  return (
    (bytes[base + 14] as number) <= 7 &&
    ((bytes[base + 15] as number) & ~recordFlagsKnown) === 0 &&
    seq >= 1 &&
    seq <= seqMax &&
    getU64(view, base + 48) <= seqMax &&
    Number.isFinite(time) &&
    maskFits(
      view.getInt32(base + 40, true),
      view.getInt32(base + 44, true),
      limits.recipientsMax,
    ) &&
    decodeName('source', bytes, names, sourceBytes) !== null &&
    decodeName('type', bytes, names + sourceBytes, typeBytes) !== null &&
    (((bytes[base + 15] as number) & recordFlagOrigin) === 0 ||
      originSeqsValid(view, originOffset(bytes, base), bytes[originOffset(bytes, base)] as number))
  );
}

/** True if the mask names only recipient ids below `count`. */
export function maskFits(low: number, high: number, count: number): boolean {
  assert(count >= 0 && count <= recipientsMax, 'recipient count out of range');
  if (count >= 32) return count === 32 ? high === 0 : high >>> (count - 32) === 0;
  return high === 0 && (count === 0 ? low === 0 : low >>> count === 0);
}

/** A decoded record, for tests, dumps and recovery reports (allocates; not the hot path). */
export interface EventRecord {
  position: number;
  seq: number;
  time: number;
  severity: number;
  flags: number;
  intendedMask: bigint;
  confirmedMask: bigint;
  originalSeq: number;
  source: string;
  type: string;
  details: Uint8Array;
  /** A relayed event's path (flag bit 2): present only then. */
  origin?: OriginHop[];
}

export function maskToBigInt(low: number, high: number): bigint {
  return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
}

export function maskHalves(mask: bigint): [low: number, high: number] {
  assert(mask >= 0n && mask < 1n << 64n, 'mask out of range');
  return [Number(mask & 0xffffffffn) | 0, Number(mask >> 32n) | 0];
}

/** Encodes a record into a fresh slot-sized array (tests and tools). */
export function encodeRecord(record: EventRecord, slotBytes: number): Uint8Array {
  const buffer = recordBuffer(new Uint8Array(slotBytes));
  const { bytes, view } = buffer;
  const [intendedLo, intendedHi] = maskHalves(record.intendedMask);
  const source = Uint8Array.from(record.source, (c) => c.charCodeAt(0));
  const type = Uint8Array.from(record.type, (c) => c.charCodeAt(0));
  const origin = record.origin === undefined ? null : encodeOrigin(record.origin);
  assert(
    recordHeaderBytes +
      source.length +
      type.length +
      record.details.length +
      (origin?.length ?? 0) <=
      slotBytes,
    'record larger than its slot',
  );
  view.setFloat64(recordOffsets.time, record.time, true);
  writeRecord(
    buffer,
    0,
    record.position,
    record.seq,
    record.severity,
    record.flags,
    intendedLo,
    intendedHi,
    record.originalSeq,
    source,
    type,
    record.details,
    origin,
  );
  const [confirmedLo, confirmedHi] = maskHalves(record.confirmedMask);
  view.setInt32(0, confirmedLo, true);
  view.setInt32(4, confirmedHi, true);
  return bytes;
}

/** Decodes the record at `base`; the caller has checked it (checkRecord) first. */
export function decodeRecord(bytes: Uint8Array, base: number): EventRecord {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const sourceBytes = bytes[base + 56] as number;
  const typeBytes = bytes[base + 57] as number;
  const detailsBytes = view.getUint16(base + 58, true);
  const names = base + recordHeaderBytes;
  const source = decodeName('source', bytes, names, sourceBytes);
  const type = decodeName('type', bytes, names + sourceBytes, typeBytes);
  assert(source !== null && type !== null, 'decodeRecord of an unchecked record');
  const detailsAt = names + sourceBytes + typeBytes;
  return {
    position: getU64(view, base + 16),
    seq: getU64(view, base + 24),
    time: view.getFloat64(base + 32, true),
    severity: bytes[base + 14] as number,
    flags: bytes[base + 15] as number,
    intendedMask: maskToBigInt(view.getInt32(base + 40, true), view.getInt32(base + 44, true)),
    confirmedMask: maskToBigInt(view.getInt32(base, true), view.getInt32(base + 4, true)),
    originalSeq: getU64(view, base + 48),
    source,
    type,
    details: bytes.slice(detailsAt, detailsAt + detailsBytes),
    ...(((bytes[base + 15] as number) & recordFlagOrigin) !== 0
      ? { origin: decodeOrigin(bytes, detailsAt + detailsBytes) }
      : {}),
  };
}
