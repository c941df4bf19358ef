/**
 * Durable FIFO images written word by word, for the recovery tests in this folder: a formatted
 * section, records placed in chosen slots (intact, torn, erased, or with a damaged confirmation
 * word), and head and tail words stored as given (or damaged). Everything placed is persisted,
 * so the image is what a boot finds after a power cut.
 */
import { vi } from 'vitest';
import { PersistentFifo } from '../../src/fifo/fifo.js';
import { fifoSectionBytes, slotBytesFor, type FifoGeometry } from '../../src/fifo/layout.js';
import { writeRecord } from '../../src/events/record.js';
import { WordRole, confirmationCheck, encodeCounterWord } from '../../src/events/checked-word.js';
import { TracedNvram } from '../../src/nvram/index.js';

const source = new Uint8Array([0x72]); // 'r'
const type = new Uint8Array([0x74]); // 't'

export function geometry(slotCount: number): FifoGeometry {
  return { slotBytes: slotBytesFor(16), slotCount, detailsBytesMax: 16, recipientsMax: 3 };
}

/** One slot's contents as placed in an image. */
export interface PlacedRecord {
  position: number;
  seq: number;
  /** The slot it is placed in (default: position mod slotCount). */
  slot?: number;
  /** A byte of its names flipped: tag and length intact, the checksum fails (bad-checksum). */
  torn?: boolean;
  /** Its tag word zeroed, as row D6 erases a leftover (bad-tag, the rest intact). */
  erased?: boolean;
  /** Its confirmation word stored with a wrong check byte (row R3). */
  confirmationDamaged?: boolean;
}

export interface FifoImage {
  slotCount: number;
  head: number | 'damaged';
  tail: number | 'damaged';
  records: PlacedRecord[];
}

export function newFifo(device: TracedNvram, slotCount: number): PersistentFifo {
  return new PersistentFifo(device, 'fifo', geometry(slotCount));
}

/** A device holding the image, every word of it durable. */
export function buildImage(image: FifoImage): TracedNvram {
  const length = fifoSectionBytes(geometry(image.slotCount));
  const device = TracedNvram.format(4096 + length, [{ name: 'fifo', length }]);
  PersistentFifo.format(device, 'fifo', geometry(image.slotCount));
  const writer = newFifo(device, image.slotCount);
  for (const record of image.records) {
    const base = (record.slot ?? record.position % image.slotCount) * writer.slotBytes;
    const offset = writer.slotsOffset + base;
    writeRecord(
      writer.buffer,
      base,
      record.position,
      record.seq,
      6,
      0,
      1,
      0,
      0,
      source,
      type,
      null,
    );
    device.storeBytes(offset, writer.shadow.subarray(base, base + writer.slotBytes));
    if (record.torn === true) device.storeBytes(offset + 64, new Uint8Array([0x52])); // 'R'
    if (record.erased === true) device.storeU64(offset + 56, 0);
    if (record.confirmationDamaged === true) {
      const word = new Uint8Array(8);
      const view = new DataView(word.buffer);
      view.setUint32(0, 1, true);
      view.setUint32(4, ((confirmationCheck(1, 0) ^ 0x5a) << 24) >>> 0, true);
      device.storeBytes(offset, word);
    }
    device.persist(offset, writer.slotBytes);
  }
  storeWord(device, writer.headOffset, WordRole.head, image.head);
  storeWord(device, writer.tailOffset, WordRole.tail, image.tail);
  return device;
}

function storeWord(
  device: TracedNvram,
  offset: number,
  role: WordRole,
  value: number | 'damaged',
): void {
  const word = new Uint8Array(8);
  encodeCounterWord(value === 'damaged' ? 3 : value, role, word);
  if (value === 'damaged') word[0] = (word[0] as number) ^ 0x10; // its check fails
  device.storeBytes(offset, word);
  device.persist(offset, 8);
}

/** A boot from only what is durable on `device` now. */
export function reboot(device: TracedNvram): TracedNvram {
  return TracedNvram.fromImage(device.buildDurableImage());
}

/** Calls of each writing device operation while `run` runs (stores, flushes, fences). */
export function writesDuring(device: TracedNvram, run: () => void): Record<string, number> {
  const names = ['storeBytes', 'storeU32', 'storeU64', 'flush', 'fence', 'persist'] as const;
  const spies = names.map((name) => vi.spyOn(device, name));
  try {
    run();
    return Object.fromEntries(names.map((name, k) => [name, spies[k]?.mock.calls.length ?? 0]));
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

export const noWrites = {
  storeBytes: 0,
  storeU32: 0,
  storeU64: 0,
  flush: 0,
  fence: 0,
  persist: 0,
};
