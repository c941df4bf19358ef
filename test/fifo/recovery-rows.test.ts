/**
 * Boot recovery's pointer rows on images built word by word [190-192]: D1 (a damaged
 * descriptor), D2 (which pointer words are taken), D4 and D5 (the scan past the tail word: where
 * it ends, which damaged records it passes), D6 (leftovers erased), and what the boot persists
 * before it returns: the scanned tail word and the erasures, both durable, and nothing written
 * at all with `repair` false or when a second boot finds the same.
 */
import { describe, expect, test } from 'vitest';
import { seqMax } from '../../src/constants.js';
import { NodeError } from '../../src/events/errors.js';
import { WordRole, loadCounterWord } from '../../src/events/checked-word.js';
import { recordTag } from '../../src/events/record.js';
import { fifoOffsets } from '../../src/fifo/layout.js';
import { SlotVerdict } from '../../src/fifo/fifo.js';
import { buildImage, newFifo, noWrites, reboot, writesDuring } from './recovery-image.js';

const tagAt = (device: ReturnType<typeof buildImage>, slot: number): number => {
  const fifo = newFifo(device, 8);
  return device.loadU32(fifo.slotsOffset + slot * fifo.slotBytes + 60);
};

describe('row D1: the descriptor', () => {
  test('a damaged descriptor stops the boot with NODE_CORRUPT', () => {
    const device = buildImage({ slotCount: 4, head: 0, tail: 0, records: [] });
    device.storeU32(device.section('fifo').offset + fifoOffsets.slotCount, 5);
    const recovering = (): unknown => newFifo(device, 4).recoverPointers();
    expect(recovering).toThrow(NodeError);
    expect(recovering).toThrow(expect.objectContaining({ code: 'NODE_CORRUPT' }));
  });
});

describe('rows D4 and D6: the scanned tail and the leftovers past it', () => {
  // Published 0..2 (the tail word lags at 1), slot 3 never written, 4 a leftover of an append
  // cut short behind it.
  const image = {
    slotCount: 8,
    head: 0,
    tail: 1,
    records: [
      { position: 0, seq: 1 },
      { position: 1, seq: 2 },
      { position: 2, seq: 3 },
      { position: 4, seq: 5 },
    ],
  };

  test('the boot persists the scanned tail word and the erasure before it returns', () => {
    const device = buildImage(image);
    const fifo = newFifo(device, 8);
    const pointers = fifo.recoverPointers();
    expect([pointers.head, pointers.tail, pointers.salvaged, pointers.torn]).toEqual([
      0,
      3,
      null,
      [],
    ]);
    expect([fifo.durableTail, fifo.tail, fifo.persistedHead]).toEqual([3, 3, 0]);
    const after = reboot(device);
    expect(loadCounterWord(after, fifo.tailOffset, WordRole.tail)).toBe(3);
    expect(tagAt(after, 4)).toBe(0); // erased, durably
    expect(tagAt(after, 2)).toBe(recordTag);
  });

  test('a second boot finds the same and writes nothing', () => {
    const device = buildImage(image);
    newFifo(device, 8).recoverPointers();
    const after = reboot(device);
    let tail = -1;
    const writes = writesDuring(after, () => {
      tail = newFifo(after, 8).recoverPointers().tail;
    });
    expect(tail).toBe(3);
    expect(writes).toEqual(noWrites);
  });

  test('with repair false nothing is written: the tail word and the leftover stay', () => {
    const device = buildImage(image);
    const fifo = newFifo(device, 8);
    let pointers = null as ReturnType<typeof fifo.recoverPointers> | null;
    const writes = writesDuring(device, () => {
      pointers = fifo.recoverPointers({ repair: false });
    });
    expect(writes).toEqual(noWrites);
    expect([pointers?.head, pointers?.tail]).toEqual([0, 3]);
    expect([fifo.durableTail, fifo.tail]).toEqual([1, 3]); // the word as stored
    expect(loadCounterWord(device, fifo.tailOffset, WordRole.tail)).toBe(1);
    expect(tagAt(device, 4)).toBe(recordTag);
  });

  test('an erased slot is not erased again, and no fence is spent on none', () => {
    const device = buildImage({
      ...image,
      tail: 3,
      records: [...image.records.slice(0, 3), { position: 4, seq: 5, erased: true }],
    });
    expect(writesDuring(device, () => newFifo(device, 8).recoverPointers())).toEqual(noWrites);
  });

  test('the slot of the head, holding a record one ring ahead, is neither scanned nor erased', () => {
    // Slot 0 names position 4 (head + slotCount): outside the lap of the head.
    const device = buildImage({
      slotCount: 4,
      head: 0,
      tail: 0,
      records: [{ position: 4, seq: 5 }],
    });
    const pointers = newFifo(device, 4).recoverPointers();
    expect([pointers.head, pointers.tail, pointers.torn]).toEqual([0, 0, []]);
    const fifo = newFifo(device, 4);
    expect(device.loadU32(fifo.slotsOffset + 60)).toBe(recordTag);
  });

  test('a full ring ends the scan at head + slotCount even where that slot holds it', () => {
    const device = buildImage({
      slotCount: 4,
      head: 0,
      tail: 4,
      records: [
        { position: 4, seq: 5 }, // slot 0: a record one ring ahead of the head
        { position: 1, seq: 2 },
        { position: 2, seq: 3 },
        { position: 3, seq: 4 },
      ],
    });
    const pointers = newFifo(device, 4).recoverPointers();
    expect([pointers.head, pointers.tail, pointers.salvaged]).toEqual([0, 4, null]);
  });

  test('a record past the tail word whose seq is not above the one before ends the scan', () => {
    const device = buildImage({
      slotCount: 8,
      head: 0,
      tail: 1,
      records: [
        { position: 0, seq: 5 },
        { position: 1, seq: 5 },
      ],
    });
    const pointers = newFifo(device, 8).recoverPointers();
    expect([pointers.tail, pointers.torn]).toEqual([1, []]);
  });
});

describe('row D5: damaged records past the tail word', () => {
  test('every slot damaged: the scan ends at the first, reported as torn', () => {
    const device = buildImage({
      slotCount: 4,
      head: 0,
      tail: 0,
      records: [0, 1, 2, 3].map((position) => ({ position, seq: 7 + position, torn: true })),
    });
    const pointers = newFifo(device, 4).recoverPointers();
    expect([pointers.head, pointers.tail]).toEqual([0, 0]);
    expect(pointers.torn).toEqual([{ position: 0, reason: 'bad-checksum' }]);
  });

  test('a damaged record followed by an erased slot ends the scan there', () => {
    const device = buildImage({
      slotCount: 8,
      head: 0,
      tail: 1,
      records: [
        { position: 0, seq: 1 },
        { position: 1, seq: 2, torn: true },
        { position: 2, seq: 3, erased: true },
      ],
    });
    const pointers = newFifo(device, 8).recoverPointers();
    expect([pointers.tail, pointers.torn]).toEqual([1, [{ position: 1, reason: 'bad-checksum' }]]);
  });

  test('a damaged record followed by an intact one with the same seq ends the scan there', () => {
    const device = buildImage({
      slotCount: 8,
      head: 0,
      tail: 1,
      records: [
        { position: 0, seq: 4 },
        { position: 1, seq: 5, torn: true },
        { position: 2, seq: 4 },
      ],
    });
    const pointers = newFifo(device, 8).recoverPointers();
    expect([pointers.tail, pointers.torn]).toEqual([1, [{ position: 1, reason: 'bad-checksum' }]]);
  });

  test('a damaged record followed by a stale one of an earlier lap ends the scan there', () => {
    const device = buildImage({
      slotCount: 4,
      head: 4,
      tail: 5,
      records: [
        { position: 4, seq: 10 },
        { position: 5, seq: 11, torn: true },
        { position: 2, seq: 3 }, // slot 2: stale
        { position: 7, seq: 12 }, // slot 3: a leftover after it
      ],
    });
    const fifo = newFifo(device, 4);
    const recovery = fifo.recover();
    expect([recovery.head, recovery.tail]).toEqual([4, 5]);
    expect(recovery.torn).toEqual([{ position: 5, reason: 'bad-checksum' }]);
    expect(Array.from(recovery.verdicts)).toEqual([SlotVerdict.valid]);
    expect(reboot(device).loadU32(fifo.slotsOffset + 3 * fifo.slotBytes + 60)).toBe(0); // erased
  });

  test('a damaged record followed by an intact one with a higher seq is passed, as torn', () => {
    const device = buildImage({
      slotCount: 8,
      head: 0,
      tail: 1,
      records: [
        { position: 0, seq: 1 },
        { position: 1, seq: 2, torn: true },
        { position: 2, seq: 3 },
      ],
    });
    const recovery = newFifo(device, 8).recover();
    expect([recovery.tail, recovery.torn]).toEqual([3, [{ position: 1, reason: 'bad-checksum' }]]);
    expect(Array.from(recovery.verdicts)).toEqual([
      SlotVerdict.valid,
      SlotVerdict.torn,
      SlotVerdict.valid,
    ]);
  });
});

describe('row D2: which pointer words are taken', () => {
  const records = (from: number, to: number): { position: number; seq: number }[] =>
    Array.from({ length: to - from }, (_, k) => ({ position: from + k, seq: from + k + 1 }));

  test('a head word past the tail word over a damaged record is salvaged (D3)', () => {
    const device = buildImage({
      slotCount: 8,
      head: 3,
      tail: 1,
      records: [...records(0, 4)].map((r) => (r.position === 2 ? { ...r, torn: true } : r)),
    });
    expect(newFifo(device, 8).recoverPointers().salvaged).toEqual({ head: 3, tail: 4 });
  });

  test('a head word a whole ring past the tail word, its record intact, is taken', () => {
    const device = buildImage({ slotCount: 4, head: 5, tail: 1, records: records(1, 5) });
    const pointers = newFifo(device, 4).recoverPointers();
    expect([pointers.head, pointers.tail, pointers.salvaged]).toEqual([5, 5, null]);
  });

  test('a head word more than a ring past the tail word is salvaged', () => {
    const device = buildImage({ slotCount: 4, head: 6, tail: 1, records: records(2, 6) });
    expect(newFifo(device, 4).recoverPointers().salvaged).toEqual({ head: 6, tail: 6 });
  });

  test('a head word past the tail word, the two summing past a ring, is taken', () => {
    const device = buildImage({ slotCount: 8, head: 6, tail: 4, records: records(0, 6) });
    const pointers = newFifo(device, 8).recoverPointers();
    expect([pointers.head, pointers.tail, pointers.salvaged]).toEqual([6, 6, null]);
  });

  test('pointer words at seqMax are taken; one past it is salvaged', () => {
    const atMax = buildImage({ slotCount: 4, head: seqMax, tail: seqMax, records: [] });
    const taken = newFifo(atMax, 4).recoverPointers();
    expect([taken.head, taken.tail, taken.salvaged]).toEqual([seqMax, seqMax, null]);

    const record = [{ position: seqMax, seq: 1 }];
    const headPast = buildImage({ slotCount: 4, head: seqMax + 1, tail: seqMax, records: record });
    expect(newFifo(headPast, 4).recoverPointers().salvaged).toEqual({
      head: seqMax + 1,
      tail: seqMax + 1,
    });
    const tailPast = buildImage({ slotCount: 4, head: seqMax, tail: seqMax + 1, records: record });
    expect(newFifo(tailPast, 4).recoverPointers().salvaged).toEqual({
      head: seqMax,
      tail: seqMax + 1,
    });
  });
});
