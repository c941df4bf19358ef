/**
 * Rows R1-R3: each published record in [head, tail) is examined once, in order, when first
 * reached: its verdict (bad-order when its seq is not above the last valid one's), its
 * confirmation word (a damaged one zeroed in the shadow and reported), which positions count as
 * examined, and the loads: one device load per run of slots, the run wrapping at the ring's end
 * and never past the recovered range (a record appended since boot keeps its shadow).
 */
import { describe, expect, test, vi } from 'vitest';
import { AssertionError } from '../../src/events/assert.js';
import { writeRecord } from '../../src/events/record.js';
import { PersistentFifo, SlotVerdict } from '../../src/fifo/fifo.js';
import { fifoSectionBytes, slotBytesFor } from '../../src/fifo/layout.js';
import { TracedNvram } from '../../src/nvram/index.js';
import { buildImage, newFifo, type PlacedRecord } from './recovery-image.js';

const run = (from: number, to: number): PlacedRecord[] =>
  Array.from({ length: to - from }, (_, k) => ({ position: from + k, seq: from + k + 1 }));

describe('rows R1 and R2: verdicts', () => {
  test('a record whose seq is not above the one before is bad-order', () => {
    const device = buildImage({
      slotCount: 8,
      head: 0,
      tail: 3,
      records: [
        { position: 0, seq: 5 },
        { position: 1, seq: 5 },
        { position: 2, seq: 7 },
      ],
    });
    const recovery = newFifo(device, 8).recover();
    expect(Array.from(recovery.verdicts)).toEqual([
      SlotVerdict.valid,
      SlotVerdict.badOrder,
      SlotVerdict.valid,
    ]);
    expect(recovery.discarded).toBe(1);
  });

  test('verdicts are indexed from the recovered head', () => {
    const records = run(0, 5).map((r) => (r.position === 3 ? { ...r, torn: true } : r));
    const device = buildImage({ slotCount: 8, head: 2, tail: 5, records });
    const recovery = newFifo(device, 8).recover();
    expect([recovery.head, recovery.tail, recovery.discarded]).toEqual([2, 5, 1]);
    expect(Array.from(recovery.verdicts)).toEqual([
      SlotVerdict.valid,
      SlotVerdict.badChecksum,
      SlotVerdict.valid,
    ]);
  });
});

describe('row R3: a damaged confirmation word', () => {
  test('is zeroed in the shadow, both halves, and its position reported', () => {
    const device = buildImage({
      slotCount: 4,
      head: 0,
      tail: 2,
      records: [
        { position: 0, seq: 1 },
        { position: 1, seq: 2, confirmationDamaged: true },
      ],
    });
    const fifo = newFifo(device, 4);
    const recovery = fifo.recover();
    expect(recovery.discarded).toBe(0);
    expect(fifo.confirmationsDamaged).toEqual([1]);
    const base = fifo.slotBase(1);
    expect([
      fifo.shadowView.getUint32(base, true),
      fifo.shadowView.getUint32(base + 4, true),
    ]).toEqual([0, 0]);
  });
});

describe('examining in order', () => {
  test('out of order, below the recovered head, or at the tail is an assertion', () => {
    const device = buildImage({ slotCount: 8, head: 2, tail: 5, records: run(0, 5) });
    const fifo = newFifo(device, 8);
    fifo.recoverPointers();
    expect(() => fifo.examine(3)).toThrow(AssertionError);
    expect(fifo.examine(2)).toBe(SlotVerdict.valid);
    fifo.examineAll();
    expect(fifo.examine(4)).toBe(SlotVerdict.valid); // examined already
    expect(() => fifo.examine(1)).toThrow(AssertionError);
    expect(() => fifo.examine(5)).toThrow(AssertionError);
  });

  test('nothing published: examining the head is an assertion', () => {
    const device = buildImage({ slotCount: 4, head: 0, tail: 0, records: [] });
    const fifo = newFifo(device, 4);
    fifo.recoverPointers();
    expect(() => fifo.examine(0)).toThrow(AssertionError);
  });

  test('isExamined: below the next unexamined position, or past the recovered range', () => {
    const device = buildImage({ slotCount: 8, head: 2, tail: 6, records: run(0, 6) });
    const fifo = newFifo(device, 8);
    fifo.recoverPointers();
    fifo.examine(2);
    const examined = (): boolean[] =>
      [1, 2, 3, 4, 5, 6, 7, 8].map((position) => fifo.isExamined(position));
    expect(examined()).toEqual([true, true, false, false, false, true, true, true]);
    fifo.examineNext();
    expect(examined()).toEqual([true, true, true, false, false, true, true, true]);
  });
});

describe('loading runs of slots', () => {
  test('one device load per run', () => {
    const device = buildImage({ slotCount: 8, head: 0, tail: 4, records: run(0, 4) });
    const fifo = newFifo(device, 8);
    fifo.recoverPointers();
    const loads = vi.spyOn(device, 'loadBytes');
    fifo.examineAll();
    expect(loads).toHaveBeenCalledTimes(1);
    loads.mockRestore();
  });

  test('a recovered range that wraps at the ring\u2019s end is loaded in two runs', () => {
    const device = buildImage({ slotCount: 4, head: 3, tail: 6, records: run(2, 6) });
    const fifo = newFifo(device, 4);
    const recovery = fifo.recover();
    expect([recovery.head, recovery.tail, recovery.discarded]).toEqual([3, 6, 0]);
    expect(Array.from(recovery.verdicts)).toEqual([0, 0, 0].map(() => SlotVerdict.valid));
  });

  test('a record appended since boot keeps its shadow when an earlier one is examined', () => {
    const device = buildImage({ slotCount: 8, head: 2, tail: 3, records: run(0, 3) });
    const fifo = newFifo(device, 8);
    fifo.recoverPointers();
    const position = fifo.reserve();
    const base = fifo.slotBase(position);
    const name = new Uint8Array([0x72]);
    writeRecord(fifo.buffer, base, position, 10, 6, 0, 1, 0, 0, name, name, null);
    fifo.commitAppend(position);
    fifo.shadowView.setInt32(base, 1, true); // recipient 0 confirmed, not stored yet
    fifo.deferConfirmation(position);
    expect(fifo.examine(2)).toBe(SlotVerdict.valid);
    expect(fifo.shadowView.getInt32(base, true)).toBe(1);
  });
});

describe('a FIFO with nothing ever published', () => {
  test('recovers at 0 with newest seq 0 whatever its slot size (no slot before position 0)', () => {
    const geometry = {
      slotBytes: slotBytesFor(8192), // a slot larger than everything before the ring
      slotCount: 2,
      detailsBytesMax: 8192,
      recipientsMax: 3,
    };
    const length = fifoSectionBytes(geometry);
    const device = TracedNvram.format(4096 + length, [{ name: 'fifo', length }]);
    PersistentFifo.format(device, 'fifo', geometry);
    const fifo = new PersistentFifo(device, 'fifo', geometry);
    const recovery = fifo.recover();
    expect([recovery.head, recovery.tail, recovery.torn, recovery.salvaged]).toEqual([
      0,
      0,
      [],
      null,
    ]);
    expect(fifo.newestSeq()).toBe(0);
  });
});
