/**
 * The event record codec [111]: round trip, every single-byte corruption detected, and the
 * field checks recovery relies on (docs/ARCHITECTURE.md, decision table row R2).
 */
import { seqMax } from '../../src/constants.js';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  RecordVerdict,
  allocateRecordBuffer,
  checkRecord,
  decodeRecord,
  encodeRecord,
  maskFits,
  recordBuffer,
  recordHeaderBytes,
  type EventRecord,
} from '../../src/events/record.js';
import { recordLimits, sampleRecord } from './records.js';
import { crc32c, crc32cWords } from '../../src/events/crc32c.js';
import { crc32c as nativeCrc32c } from '../../src/nvram/index.js';

const seed = Number(process.env['FC_SEED'] ?? 20_251_126);
const limits = recordLimits(96, 56);
const { detailsBytesMax } = limits;

const nameWord = fc.stringMatching(/^[a-z0-9_-]{1,6}$/);
const recordArbitrary: fc.Arbitrary<EventRecord> = fc.record({
  position: fc.nat({ max: 2 ** 40 }),
  seq: fc.integer({ min: 1, max: seqMax }),
  time: fc.double({ noNaN: true, noDefaultInfinity: true }),
  severity: fc.integer({ min: 0, max: 7 }),
  flags: fc.constantFrom(0, 1),
  intendedMask: fc.bigInt({ min: 0n, max: (1n << 56n) - 1n }),
  confirmedMask: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  originalSeq: fc.nat({ max: seqMax }),
  source: fc.stringMatching(/^[A-Za-z0-9._:-]{1,32}$/),
  type: fc.array(nameWord, { minLength: 1, maxLength: 4 }).map((words) => words.join('.')),
  details: fc.uint8Array({ maxLength: detailsBytesMax }),
});

function check(slot: Uint8Array, position: number): number {
  return checkRecord(recordBuffer(slot), 0, position, limits);
}

describe('encodeRecord and decodeRecord', () => {
  test('a record decodes to what was encoded, and checks valid at its position', () => {
    fc.assert(
      fc.property(recordArbitrary, (record) => {
        const slot = encodeRecord(record, limits.slotBytes);
        expect(check(slot, record.position)).toBe(RecordVerdict.valid);
        const decoded = decodeRecord(slot, 0);
        expect({ ...decoded, time: Object.is(decoded.time, -0) ? 0 : decoded.time }).toEqual({
          ...record,
          time: Object.is(record.time, -0) ? 0 : record.time,
        });
      }),
      { seed, numRuns: 300 },
    );
  });

  test('every single-byte corruption of the checked bytes is detected', () => {
    fc.assert(
      fc.property(
        recordArbitrary,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (record, where, flip) => {
          const slot = encodeRecord(record, limits.slotBytes);
          const recordBytes =
            recordHeaderBytes + record.source.length + record.type.length + record.details.length;
          // bytes [8, recordBytes): the CRC and everything it covers (the confirmation word is outside)
          const at = 8 + (where % (recordBytes - 8));
          slot[at] = (slot[at] as number) ^ flip;
          expect(check(slot, record.position)).not.toBe(RecordVerdict.valid);
        },
      ),
      { seed, numRuns: 2_000 },
    );
  });

  test('the confirmation word is outside the checksum', () => {
    fc.assert(
      fc.property(
        recordArbitrary,
        fc.uint8Array({ minLength: 8, maxLength: 8 }),
        (record, word) => {
          const slot = encodeRecord(record, limits.slotBytes);
          slot.set(word, 0);
          expect(check(slot, record.position)).toBe(RecordVerdict.valid);
        },
      ),
      { seed, numRuns: 100 },
    );
  });

  test('a record from an earlier lap of the ring is rejected by its position', () => {
    fc.assert(
      fc.property(recordArbitrary, fc.integer({ min: 1, max: 1024 }), (record, lap) => {
        const slot = encodeRecord(record, limits.slotBytes);
        expect(check(slot, record.position + lap)).toBe(RecordVerdict.badPosition);
      }),
      { seed, numRuns: 100 },
    );
  });

  test('an all-zero slot is not a record', () => {
    expect(check(new Uint8Array(limits.slotBytes), 0)).toBe(RecordVerdict.badTag);
  });

  test('out-of-range fields are rejected even with a valid checksum', () => {
    const base = sampleRecord({ position: 3 });
    expect(check(encodeRecord(base, limits.slotBytes), 3)).toBe(RecordVerdict.valid);
    const bad: Partial<EventRecord>[] = [
      { severity: 8 },
      { seq: 0 },
      { flags: 8 }, // bits 0 (re-delivery), 1 (producer counter) and 2 (origin) are known
      { time: Number.POSITIVE_INFINITY },
      { type: 'disk..failed' },
      { source: 'r a' },
    ];
    for (const change of bad) {
      const slot = encodeRecord({ ...base, ...change }, limits.slotBytes);
      expect(check(slot, 3), JSON.stringify(change)).toBe(RecordVerdict.badField);
    }
    const narrow = { ...limits, recipientsMax: 4 };
    const slot = encodeRecord({ ...base, intendedMask: 1n << 4n }, limits.slotBytes);
    expect(checkRecord(recordBuffer(slot), 0, 3, narrow)).toBe(RecordVerdict.badField);
  });

  test('a details length above the limit is a length error, not a read past the slot', () => {
    const slot = encodeRecord(
      {
        position: 0,
        seq: 1,
        time: 0,
        severity: 0,
        flags: 0,
        intendedMask: 0n,
        confirmedMask: 0n,
        originalSeq: 0,
        source: 's',
        type: 't',
        details: new Uint8Array(detailsBytesMax),
      },
      limits.slotBytes,
    );
    expect(checkRecord(recordBuffer(slot), 0, 0, { ...limits, detailsBytesMax: 10 })).toBe(
      RecordVerdict.badLength,
    );
  });
});

describe('maskFits', () => {
  test('accepts exactly the masks naming ids below the count', () => {
    expect(maskFits(0b111, 0, 3)).toBe(true);
    expect(maskFits(0b1000, 0, 3)).toBe(false);
    expect(maskFits(-1, 0, 32)).toBe(true);
    expect(maskFits(-1, 1, 32)).toBe(false);
    expect(maskFits(-1, 0b11, 34)).toBe(true);
    expect(maskFits(-1, 0b111, 34)).toBe(false);
    expect(maskFits(-1, 0xffffff, 56)).toBe(true);
    expect(maskFits(-1, 0x1ffffff, 56)).toBe(false); // bit 56: the confirmation word's check
  });
});

describe('crc32c', () => {
  test('the TypeScript CRC32C agrees with the native one on every range', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 8, maxLength: 600 }),
        fc.nat(),
        fc.nat(),
        (bytes, a, b) => {
          const offset = a % bytes.length;
          const length = b % (bytes.length - offset + 1);
          expect(crc32c(bytes, offset, length)).toBe(nativeCrc32c(bytes, offset, length));
        },
      ),
      { seed, numRuns: 300 },
    );
  });

  test('the word-loading CRC32C agrees with the byte one at 4-aligned offsets', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 8, maxLength: 600 }),
        fc.nat(),
        fc.nat(),
        (raw, a, b) => {
          const bytes = new Uint8Array(Math.ceil(raw.length / 8) * 8);
          bytes.set(raw);
          const words = new Int32Array(bytes.buffer);
          const offset = (a % (bytes.length / 4)) * 4;
          const length = b % (bytes.length - offset + 1);
          expect(crc32cWords(words, bytes, offset, length)).toBe(crc32c(bytes, offset, length));
        },
      ),
      { seed, numRuns: 300 },
    );
  });

  test('the WebAssembly CRC32C of a runtime buffer agrees with the TypeScript one', () => {
    const buffer = allocateRecordBuffer(1024);
    expect(buffer.bytes.byteOffset % 8).toBe(0);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1024, maxLength: 1024 }),
        fc.nat(),
        fc.nat(),
        (raw, a, b) => {
          buffer.bytes.set(raw);
          const offset = (a % 256) * 4;
          const length = b % (1024 - offset + 1);
          expect(buffer.crc(offset, length)).toBe(crc32c(buffer.bytes, offset, length));
        },
      ),
      { seed, numRuns: 300 },
    );
  });

  test('matches the standard check value', () => {
    const text = new TextEncoder().encode('123456789');
    expect(crc32c(text, 0, text.length)).toBe(0xe3069283);
  });
});
