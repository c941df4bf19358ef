/**
 * The record codec at its bounds (src/events/record.ts): a record that exactly fills its slot,
 * the largest seq, a length field that disagrees with the lengths under a valid checksum, the
 * position check at position 0, recipient masks at every width, the assertions that guard the
 * codec's callers, and which CRC engine a record buffer gets.
 */
import { describe, expect, test } from 'vitest';
import { recipientsMax, seqMax } from '../../src/constants.js';
import { AssertionError } from '../../src/events/assert.js';
import { crc32c } from '../../src/events/crc32c.js';
import { wasmCrcBuffer } from '../../src/events/crc32c-wasm.js';
import { NodeError, QueueFull } from '../../src/events/errors.js';
import {
  RecordVerdict,
  allocateRecordBuffer,
  checkRecord,
  decodeRecord,
  encodeRecord,
  maskFits,
  maskHalves,
  recordBuffer,
  recordHeaderBytes,
  recordOffsets,
  type EventRecord,
  type RecordLimits,
} from '../../src/events/record.js';
import { recordLimits, sampleRecord } from './records.js';

const limits = recordLimits(64, recipientsMax);
const base = sampleRecord();

function encode(change: Partial<EventRecord>, slotBytes = limits.slotBytes): Uint8Array {
  return encodeRecord({ ...base, ...change }, slotBytes);
}

function check(slot: Uint8Array, position: number, at: RecordLimits = limits): number {
  return checkRecord(recordBuffer(slot), 0, position, at);
}

/** Rewrites the checksum over the record's bytes as they now are (a field changed under it). */
function reseal(slot: Uint8Array): void {
  const view = new DataView(slot.buffer);
  const recordBytes = view.getUint16(recordOffsets.recordBytes, true);
  const length = Math.min(recordBytes, slot.length) - recordOffsets.recordBytes;
  view.setUint32(recordOffsets.crc, crc32c(slot, recordOffsets.recordBytes, length), true);
}

describe('checkRecord at the bounds', () => {
  test('a record that exactly fills its slot is valid; the slot one byte short is a length error', () => {
    const fill = limits.slotBytes - recordHeaderBytes - 'raid'.length - 'disk.failed'.length;
    const slot = encode({ details: new Uint8Array(fill).fill(9) }, limits.slotBytes);
    const wide = { ...limits, detailsBytesMax: fill };
    expect(check(slot, 7, wide)).toBe(RecordVerdict.valid);
    expect(check(slot, 7, { ...wide, slotBytes: limits.slotBytes - 1 })).toBe(
      RecordVerdict.badLength,
    );
  });

  test('a length field that disagrees with the name and details lengths is a length error', () => {
    for (const delta of [-1, 1]) {
      const slot = encode({});
      const view = new DataView(slot.buffer);
      view.setUint16(
        recordOffsets.recordBytes,
        view.getUint16(recordOffsets.recordBytes, true) + delta,
        true,
      );
      reseal(slot);
      expect(check(slot, 7), `delta ${delta}`).toBe(RecordVerdict.badLength);
    }
  });

  test('position 0 is checked like any other', () => {
    expect(check(encode({ position: 0 }), 0)).toBe(RecordVerdict.valid);
    expect(check(encode({ position: 16 }), 0)).toBe(RecordVerdict.badPosition);
    expect(check(encode({ position: 0 }), 16)).toBe(RecordVerdict.badPosition);
    // a negative position asks for no position check
    expect(check(encode({ position: 16 }), -1)).toBe(RecordVerdict.valid);
  });

  test('a source name longer than 32 bytes is a bad field, though a recipient name may be 48', () => {
    expect(check(encode({ source: 's'.repeat(32) }), 7)).toBe(RecordVerdict.valid);
    expect(check(encode({ source: 's'.repeat(40) }), 7)).toBe(RecordVerdict.badField);
  });

  test('seq and original seq may be seqMax, not above', () => {
    expect(check(encode({ seq: seqMax }), 7)).toBe(RecordVerdict.valid);
    expect(check(encode({ seq: seqMax + 1 }), 7)).toBe(RecordVerdict.badField);
    expect(check(encode({ originalSeq: seqMax }), 7)).toBe(RecordVerdict.valid);
    expect(check(encode({ originalSeq: seqMax + 1 }), 7)).toBe(RecordVerdict.badField);
  });
});

describe('maskFits', () => {
  test('at every count, the masks naming only ids below it', () => {
    for (let count = 0; count <= recipientsMax; count++) {
      for (let id = 0; id < 64; id++) {
        const [low, high] = maskHalves(1n << BigInt(id));
        expect(maskFits(low, high, count), `count ${count} id ${id}`).toBe(id < count);
      }
      expect(maskFits(0, 0, count)).toBe(true);
    }
  });

  test('a count out of 0..56 is an assertion', () => {
    for (const count of [-1, recipientsMax + 1])
      expect(() => maskFits(0, 0, count), String(count)).toThrow(AssertionError);
  });
});

describe('the codec guards its callers', () => {
  test('maskHalves takes 0 .. 2^64 - 1', () => {
    expect(maskHalves(0n)).toEqual([0, 0]);
    expect(maskHalves((1n << 64n) - 1n)).toEqual([-1, -1]);
    expect(maskHalves(1n << 32n)).toEqual([0, 1]);
    for (const mask of [-1n, 1n << 64n])
      expect(() => maskHalves(mask), String(mask)).toThrow(AssertionError);
  });

  test('encodeRecord refuses a record larger than its slot, to the byte', () => {
    const fill = limits.slotBytes - recordHeaderBytes - 'raid'.length - 'disk.failed'.length;
    expect(() => encode({ details: new Uint8Array(fill) })).not.toThrow();
    expect(() => encode({ details: new Uint8Array(fill + 1) })).toThrow(AssertionError);
    expect(() => encode({ source: 'raid0', details: new Uint8Array(fill) })).toThrow(
      AssertionError,
    );
    expect(() => encode({ type: 'disk.failed0', details: new Uint8Array(fill) })).toThrow(
      AssertionError,
    );
  });

  test('decodeRecord refuses names its check would refuse, by their own kind', () => {
    expect(decodeRecord(encode({}), 0).type).toBe('disk.failed');
    // a ':' is a source character, not a type one; 40 bytes fit a recipient, not a source
    expect(() => decodeRecord(encode({ type: 'disk:failed' }), 0)).toThrow(AssertionError);
    expect(() => decodeRecord(encode({ source: 's'.repeat(40) }), 0)).toThrow(AssertionError);
    expect(decodeRecord(encode({ source: 'host:raid' }), 0).source).toBe('host:raid');
  });

  test('a record buffer must be 8-byte aligned in offset and length', () => {
    const backing = new Uint8Array(256);
    expect(() => recordBuffer(backing.subarray(8, 72))).not.toThrow();
    expect(() => recordBuffer(backing.subarray(4, 68))).toThrow(AssertionError);
    expect(() => recordBuffer(backing.subarray(8, 68))).toThrow(AssertionError);
    expect(() => recordBuffer(backing.subarray(1, 65))).toThrow(AssertionError);
  });
});

describe('record buffers', () => {
  test('by default in a WebAssembly memory after its tables; TypeScript on request', () => {
    const wasm = allocateRecordBuffer(256);
    expect(wasm.bytes.byteOffset).toBe(8192);
    expect(wasm.bytes.length).toBe(256);
    expect(allocateRecordBuffer(256, 'webassembly').bytes.byteOffset).toBe(8192);
    const plain = allocateRecordBuffer(256, 'typescript');
    expect(plain.bytes.byteOffset).toBe(0);
    expect(plain.bytes.buffer.byteLength).toBe(256);
    expect(wasmCrcBuffer(64)?.bytes.byteOffset).toBe(8192);
    // both engines compute the same CRC over the same bytes
    for (const buffer of [wasm, plain]) buffer.bytes.set([1, 2, 3, 4, 5, 6, 7, 8, 9], 16);
    expect(wasm.crc(16, 9)).toBe(plain.crc(16, 9));
    expect(plain.crc(16, 9)).toBe(crc32c(plain.bytes, 16, 9));
  });
});

test('errors are named for their class', () => {
  expect(new NodeError('BAD_ARGUMENT', 'x').name).toBe('NodeError');
  expect(new QueueFull('boot', 'x').name).toBe('QueueFull');
  expect(new AssertionError('x').name).toBe('AssertionError');
  expect(new AssertionError('x').message).toBe('assertion failed: x');
});
