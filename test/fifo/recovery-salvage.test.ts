/**
 * Row D3 exactly: invalid pointer words rebuilt from the slots (the longest run of consecutive
 * positions with increasing seqs ending at the newest intact record, cut at a plausible head
 * word; with no intact record, the one plausible counter word or 0), and row L1: the highest
 * seq of any intact record that names a position of its own slot.
 */
import { describe, expect, test } from 'vitest';
import { seqMax } from '../../src/constants.js';
import { buildImage, newFifo, type PlacedRecord } from './recovery-image.js';

function salvaged(
  head: number | 'damaged',
  tail: number | 'damaged',
  records: PlacedRecord[],
): unknown {
  const device = buildImage({ slotCount: 4, head, tail, records });
  const pointers = newFifo(device, 4).recoverPointers();
  expect([pointers.head, pointers.tail]).toEqual([
    pointers.salvaged?.head,
    pointers.salvaged?.tail,
  ]);
  return pointers.salvaged;
}

describe('row D3 with no intact record: the plausible counter word', () => {
  test('the tail word when the head word is damaged', () => {
    expect(salvaged('damaged', 7, [])).toEqual({ head: 7, tail: 7 });
  });

  test('the head word 0 before a tail word more than a ring past it', () => {
    expect(salvaged(0, 5, [])).toEqual({ head: 0, tail: 0 });
  });

  test('a head word at seqMax; none past it', () => {
    expect(salvaged(seqMax, 'damaged', [])).toEqual({ head: seqMax, tail: seqMax });
    expect(salvaged(seqMax + 1, 'damaged', [])).toEqual({ head: 0, tail: 0 });
  });

  test('0 when both words are damaged', () => {
    expect(salvaged('damaged', 'damaged', [])).toEqual({ head: 0, tail: 0 });
  });
});

describe('row D3 from the intact records', () => {
  test('one record at position 0', () => {
    expect(salvaged('damaged', 'damaged', [{ position: 0, seq: 1 }])).toEqual({
      head: 0,
      tail: 1,
    });
  });

  test('the run stops below a seq that does not increase', () => {
    const run = (seqs: number[]): PlacedRecord[] =>
      seqs.map((seq, position) => ({ position, seq }));
    expect(salvaged('damaged', 'damaged', run([1, 5, 3]))).toEqual({ head: 2, tail: 3 });
    expect(salvaged('damaged', 'damaged', run([1, 3, 3]))).toEqual({ head: 2, tail: 3 });
    expect(salvaged('damaged', 'damaged', run([1, 2, 3]))).toEqual({ head: 0, tail: 3 });
  });

  test('a head word just past the newest record bounds the run: nothing pending', () => {
    const records = [0, 1, 2].map((position) => ({ position, seq: position + 1 }));
    expect(salvaged(3, 'damaged', records)).toEqual({ head: 3, tail: 3 });
    expect(salvaged(2, 'damaged', records)).toEqual({ head: 2, tail: 3 });
  });
});

describe('row L1: the highest seq the ring shows', () => {
  test('intact records of their own slot only, retired ones included', () => {
    const device = buildImage({
      slotCount: 4,
      head: 3,
      tail: 4,
      records: [
        { position: 0, seq: 3 }, // retired, intact
        { position: 1, seq: 9, torn: true },
        { position: 5, seq: 20, slot: 2 }, // names a position of slot 1
        { position: 3, seq: 5 },
      ],
    });
    expect(newFifo(device, 4).highestSeqInSlots()).toBe(5);
  });
});
