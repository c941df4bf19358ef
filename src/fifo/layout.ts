/**
 * The persistent FIFO section [141]: a descriptor, the head and tail counters each on its own
 * 64-byte line, and a ring of fixed-size slots, each holding one event record [111].
 *
 * | off | size | field | |
 * |---:|---:|---|---|
 * | 0 | 8 | magic | ASCII `NVRFIFO1` |
 * | 8 | 4 | version | 2 |
 * | 12 | 4 | slotBytes | a multiple of 64 |
 * | 16 | 4 | slotCount | |
 * | 20 | 4 | detailsBytesMax | |
 * | 24 | 4 | recipientsMax | |
 * | 28 | 4 | crc32c | over [0, 28) |
 * | 64 | 8 | head | counter of the oldest event not completely handled [217]; a checked word |
 * | 128 | 8 | tail | counter one past the newest published event [213]; a checked word |
 * | 192 | 8 | reserved | 0; for a partner's mirror FIFO, its owner epoch [193] |
 * | 256 | slotCount x slotBytes | slots | slot i holds the record appended at a counter c with c mod slotCount = i |
 *
 * Head and tail are monotonically increasing counters (< 2^48), never wrapped: the slot is the
 * counter mod slotCount, so full (tail - head = slotCount) and empty (tail = head) differ. Each is
 * stored as a checked word (src/events/checked-word.ts: 48 bits of value, a 16-bit check).
 */
import { lineBytes, pageBytes } from '../constants.js';
import { crc32c } from '../events/crc32c.js';
import { recordBytesMax } from '../events/record.js';

export const fifoMagic = 'NVRFIFO1';
export const fifoVersion = 2;

export const fifoOffsets = Object.freeze({
  magic: 0,
  version: 8,
  slotBytes: 12,
  slotCount: 16,
  detailsBytesMax: 20,
  recipientsMax: 24,
  crc: 28,
  head: 64,
  tail: 128,
  owner: 192,
  slots: 256,
});

export const fifoDescriptorBytes = 32;

export interface FifoGeometry {
  slotBytes: number;
  slotCount: number;
  detailsBytesMax: number;
  recipientsMax: number;
}

/** The slot size for a details limit: the largest record, rounded up to whole lines. */
export function slotBytesFor(detailsBytesMax: number): number {
  return Math.ceil(recordBytesMax(detailsBytesMax) / lineBytes) * lineBytes;
}

/** Bytes the section needs, rounded up to whole pages. */
export function fifoSectionBytes(geometry: FifoGeometry): number {
  const bytes = fifoOffsets.slots + geometry.slotCount * geometry.slotBytes;
  return Math.ceil(bytes / pageBytes) * pageBytes;
}

/** The descriptor bytes (with CRC) for a geometry. */
export function encodeFifoDescriptor(geometry: FifoGeometry): Uint8Array {
  const bytes = new Uint8Array(fifoDescriptorBytes);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < fifoMagic.length; i++) bytes[i] = fifoMagic.charCodeAt(i);
  view.setUint32(fifoOffsets.version, fifoVersion, true);
  view.setUint32(fifoOffsets.slotBytes, geometry.slotBytes, true);
  view.setUint32(fifoOffsets.slotCount, geometry.slotCount, true);
  view.setUint32(fifoOffsets.detailsBytesMax, geometry.detailsBytesMax, true);
  view.setUint32(fifoOffsets.recipientsMax, geometry.recipientsMax, true);
  view.setUint32(fifoOffsets.crc, crc32c(bytes, 0, fifoOffsets.crc), true);
  return bytes;
}

/** Null if the descriptor is intact and matches the geometry, else what is wrong. */
export function describeDescriptorFault(bytes: Uint8Array, geometry: FifoGeometry): string | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < fifoMagic.length; i++) {
    if (bytes[i] !== fifoMagic.charCodeAt(i)) return 'bad magic (not formatted as a FIFO)';
  }
  if (view.getUint32(fifoOffsets.crc, true) !== crc32c(bytes, 0, fifoOffsets.crc)) {
    return 'descriptor checksum mismatch';
  }
  if (view.getUint32(fifoOffsets.version, true) !== fifoVersion) return 'unsupported version';
  const expected = encodeFifoDescriptor(geometry);
  for (let i = 0; i < fifoDescriptorBytes; i++) {
    if (bytes[i] !== expected[i]) return 'geometry differs from the control block';
  }
  return null;
}
