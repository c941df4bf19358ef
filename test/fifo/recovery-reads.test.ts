/**
 * What a boot reads of a FIFO section [190-192]: nothing past a faulty descriptor (row D1
 * stops there), and only the position word of a slot that does not hold the position recovery
 * asks about (the slot before the tail word, row D4's starting seq).
 */
import { expect, test } from 'vitest';
import { NodeError } from '../../src/events/errors.js';
import { fifoDescriptorBytes, fifoOffsets } from '../../src/fifo/layout.js';
import { buildImage, newFifo } from './recovery-image.js';

/** The 8-byte words of [from, from + bytes) a load read, as 0/1 marks. */
function marksOf(marks: Uint8Array, from: number, bytes: number): number[] {
  return Array.from(marks.subarray(from / 8, (from + bytes) / 8));
}

test('a faulty descriptor: nothing past it is read', () => {
  const device = buildImage({ slotCount: 4, head: 2, tail: 1, records: [{ position: 1, seq: 2 }] });
  const section = device.section('fifo').offset;
  device.storeU32(section + fifoOffsets.slotCount, 5);
  device.startLoadRecording();
  expect(() => newFifo(device, 4).recoverPointers()).toThrow(NodeError);
  const marks = device.stopLoadRecording();
  expect(marksOf(marks, section, fifoDescriptorBytes)).toEqual([1, 1, 1, 1]);
  expect(marks.indexOf(1, (section + fifoDescriptorBytes) / 8)).toBe(-1);
});

test('the slot before the tail word, holding another position, is read one word only', () => {
  const device = buildImage({
    slotCount: 8,
    head: 0,
    tail: 3,
    records: [
      { position: 0, seq: 1 },
      { position: 1, seq: 2 },
      { position: 10, seq: 11 }, // slot 2: not position 2
    ],
  });
  const fifo = newFifo(device, 8);
  device.startLoadRecording();
  const pointers = fifo.recoverPointers();
  const marks = device.stopLoadRecording();
  expect([pointers.head, pointers.tail, pointers.torn]).toEqual([0, 3, []]);
  const slot2 = marksOf(marks, fifo.slotsOffset + fifo.slotBase(2), fifo.slotBytes);
  expect(slot2.map((mark, word) => (mark === 1 ? word : -1)).filter((w) => w >= 0)).toEqual([2]);
});
