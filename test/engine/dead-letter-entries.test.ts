/**
 * The dead-letter section [141] byte for byte, on a device of its own: the descriptor a format
 * persists, the persist order of a dead-lettering (entry, then its state word), which entries a
 * boot's recover() counts held and which damaged (row X1: a bad checksum, an unknown reason or
 * recipient id, a record for another seq, a state word that is neither free nor held), and that
 * find, list and remove look at held entries only.
 */
import { describe, expect, test } from 'vitest';
import { NodeError } from '../../src/events/errors.js';
import { encodeRecord, type EventRecord } from '../../src/events/record.js';
import {
  DeadLetterStore,
  deadLetterMagic,
  deadLetterSectionBytes,
  type DeadLetterGeometry,
} from '../../src/engine/dead-letter.js';
import { TracedNvram, crc32c } from '../../src/nvram/index.js';
import { instructions } from './harness.js';

const geometry: DeadLetterGeometry = {
  entryCount: 3,
  slotBytes: 128,
  detailsBytesMax: 64,
  recipientsMax: 4,
};
const entryBytes = 64 + geometry.slotBytes;
const sectionName = 'dead-letter';

function device(record = false): TracedNvram {
  const nvram = TracedNvram.format(2 * 4096, [{ name: sectionName, length: 4096 }], { record });
  DeadLetterStore.format(nvram, sectionName, geometry);
  return nvram;
}

/** The section's offset on the device. */
const sectionAt = (nvram: TracedNvram): number => nvram.section(sectionName).offset;
/** Where entry `index` starts on the device (its state word). */
const entryAt = (nvram: TracedNvram, index: number): number =>
  sectionAt(nvram) + 64 + index * entryBytes;

/** A FIFO slot holding event `seq`; its details fill the slot to its last byte. */
function slot(seq: number): Uint8Array {
  const event: EventRecord = {
    position: seq,
    seq,
    time: 1_700_000_000_000 + seq,
    severity: 3,
    flags: 0,
    intendedMask: 0b11n,
    confirmedMask: 0n,
    originalSeq: 0,
    source: 'raid',
    type: 'disk.failed',
    details: new Uint8Array(geometry.slotBytes - 64 - 4 - 11).fill(0x61 + seq),
  };
  return encodeRecord(event, geometry.slotBytes);
}

/** A store on the device as a boot sees it: only durable bytes, recovered. */
function rebooted(nvram: TracedNvram): {
  store: DeadLetterStore;
  counts: object;
  booted: TracedNvram;
} {
  const booted = TracedNvram.fromImage(nvram.buildDurableImage());
  const store = new DeadLetterStore(booted, sectionName, geometry);
  return { store, counts: store.recover(), booted };
}

function fresh(nvram: TracedNvram): DeadLetterStore {
  const store = new DeadLetterStore(nvram, sectionName, geometry);
  store.recover();
  return store;
}

describe('the dead-letter descriptor', () => {
  test('format persists magic, version 1, the geometry and a crc32c over [0, 28), little-endian', () => {
    const nvram = device();
    const image = nvram.buildDurableImage();
    const at = sectionAt(nvram);
    const descriptor = image.slice(at, at + 32);
    const view = new DataView(descriptor.buffer);
    expect(String.fromCharCode(...descriptor.subarray(0, 8))).toBe(deadLetterMagic);
    expect(deadLetterMagic).toBe('NVRDLQ01');
    expect([8, 12, 16, 20, 24].map((offset) => view.getUint32(offset, true))).toEqual([
      1, 3, 128, 64, 4,
    ]);
    expect(view.getUint32(28, true)).toBe(crc32c(descriptor, 0, 28));
  });

  test('a store needs the whole section: one too small is NODE_BAD_LAYOUT', () => {
    // 64 + 22 x 192 bytes round up to 8192, more than the 4096-byte section
    const big = { ...geometry, entryCount: 22 };
    expect(deadLetterSectionBytes(big)).toBe(8192);
    expect(deadLetterSectionBytes(geometry)).toBe(4096);
    expect(() => new DeadLetterStore(device(), sectionName, big)).toThrow(
      expect.objectContaining({ code: 'NODE_BAD_LAYOUT' }),
    );
    // 64 + 21 x 192 = 4096 fits exactly
    expect(
      () => new DeadLetterStore(device(), sectionName, { ...geometry, entryCount: 21 }),
    ).not.toThrow();
  });

  test('recover() refuses a descriptor that differs in one byte: NODE_CORRUPT', () => {
    const nvram = device();
    nvram.storeBytes(sectionAt(nvram) + 12, new Uint8Array([4])); // entryCount 4, not 3
    nvram.persist(sectionAt(nvram) + 12, 1);
    let error: unknown;
    try {
      new DeadLetterStore(nvram, sectionName, geometry).recover();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(NodeError);
    expect((error as NodeError).code).toBe('NODE_CORRUPT');
  });
});

describe('a dead-lettering', () => {
  test('persists the entry, then publishes its state word: one store and one persist each', () => {
    const nvram = device(true);
    const store = fresh(nvram);
    expect(store.add(1, 5, slot(5), 3, 1234, 1)).toBe(true);
    const from = nvram.exportTrace().kinds.length;
    expect(store.add(2, 6, slot(6), 0, 1235, 2)).toBe(true);
    const at = entryAt(nvram, 1);
    expect(instructions(nvram, from)).toEqual([
      [0, at + 8, entryBytes - 8],
      [1, at + 8, entryBytes - 8],
      [2, 0, 0],
      [0, at, 8],
      [1, at, 8],
      [2, 0, 0],
    ]);
  });

  test('is durable whole: a boot lists every field and the record as they were added', () => {
    const nvram = device();
    const store = fresh(nvram);
    store.add(1, 5, slot(5), 3, 1234.5, 1);
    store.add(2, 6, slot(6), 0, 1235, 2);
    store.add(3, 7, slot(7), 1, 1236, 3, 451);
    const { store: again, counts } = rebooted(nvram);
    expect(counts).toEqual({ held: 3, damaged: 0 });
    expect(again.held()).toBe(3);
    expect(again.free()).toBe(0);
    expect(again.list().map(({ record, ...letter }) => ({ ...letter, type: record.type }))).toEqual(
      [
        {
          index: 0,
          recipientId: 1,
          seq: 5,
          deadLetteredAt: 1234.5,
          reason: 'attempts-exhausted',
          attempts: 3,
          detail: 0,
          type: 'disk.failed',
        },
        {
          index: 1,
          recipientId: 2,
          seq: 6,
          deadLetteredAt: 1235,
          reason: 'recipient-retired',
          attempts: 0,
          detail: 0,
          type: 'disk.failed',
        },
        {
          index: 2,
          recipientId: 3,
          seq: 7,
          deadLetteredAt: 1236,
          reason: 'refused',
          attempts: 1,
          detail: 451,
          type: 'disk.failed',
        },
      ],
    );
    expect(again.list()[2]!.record.details).toEqual(slot(7).subarray(128 - 49));
  });

  test('of an event already held for that recipient finds the entry instead of making a second', () => {
    const store = fresh(device());
    expect(store.add(1, 5, slot(5), 3, 1234, 1)).toBe(true);
    expect(store.add(1, 5, slot(5), 3, 1300, 1)).toBe(true);
    expect(store.held()).toBe(1);
    expect(store.find(1, 5)).toBe(0);
    expect(store.find(2, 5)).toBe(-1);
    expect(store.find(1, 6)).toBe(-1);
  });

  test('with a reason this version does not name lists it as none', () => {
    const store = fresh(device());
    store.add(1, 5, slot(5), 3, 1234, 9);
    expect(store.list().map((letter) => letter.reason)).toEqual(['none']);
  });
});

describe('recover() after a reboot', () => {
  /** Device with entries 0..2 held for (recipient, seq, reason) as given. */
  function held(...entries: [number, number, number][]): TracedNvram {
    const nvram = device();
    const store = fresh(nvram);
    for (const [recipientId, seq, reason] of entries) {
      expect(store.add(recipientId, seq, slot(seq), 1, 1000, reason)).toBe(true);
    }
    return nvram;
  }

  test('counts held and damaged entries exactly', () => {
    const nvram = held([0, 1, 1], [1, 2, 1]);
    expect(rebooted(nvram).counts).toEqual({ held: 2, damaged: 0 });
    // entry 1's attempts change under its checksum
    nvram.storeBytes(entryAt(nvram, 1) + 36, new Uint8Array([7]));
    nvram.persist(entryAt(nvram, 1) + 36, 1);
    const { store, counts } = rebooted(nvram);
    expect(counts).toEqual({ held: 1, damaged: 1 });
    expect([store.held(), store.damaged(), store.free()]).toEqual([1, 1, 1]);
    expect(store.list().map((letter) => letter.seq)).toEqual([1]);
  });

  test('an intact entry whose state word is neither free nor held is damaged', () => {
    const nvram = held([0, 1, 1], [1, 2, 1]);
    nvram.storeU64(entryAt(nvram, 0), 2);
    nvram.persist(entryAt(nvram, 0), 8);
    expect(rebooted(nvram).counts).toEqual({ held: 1, damaged: 1 });
  });

  test('a recipient id past recipientsMax, a reason 0 or past the last known are damaged', () => {
    // ids 0..3 and reasons 1..3 are valid
    expect(rebooted(held([3, 1, 3], [3, 2, 1])).counts).toEqual({ held: 2, damaged: 0 });
    expect(rebooted(held([4, 1, 1])).counts).toEqual({ held: 0, damaged: 1 });
    expect(rebooted(held([0, 1, 0])).counts).toEqual({ held: 0, damaged: 1 });
    expect(rebooted(held([0, 1, 4])).counts).toEqual({ held: 0, damaged: 1 });
  });

  test('an entry whose record is another event than its seq says is damaged', () => {
    const nvram = device();
    fresh(nvram).add(0, 5, slot(6), 1, 1000, 1);
    expect(rebooted(nvram).counts).toEqual({ held: 0, damaged: 1 });
  });

  test('looks at entryCount entries only: bytes after the last entry are not an entry', () => {
    const nvram = held([0, 1, 1]);
    const after = entryAt(nvram, geometry.entryCount);
    nvram.storeU64(after, 1);
    nvram.persist(after, 8);
    expect(rebooted(nvram).counts).toEqual({ held: 1, damaged: 0 });
  });
});

describe('find, list and remove', () => {
  test('remove frees a held entry durably, at its own index; a removed entry is not found', () => {
    const nvram = device();
    const store = fresh(nvram);
    store.add(0, 1, slot(1), 1, 1000, 1);
    store.add(1, 2, slot(2), 1, 1000, 1);
    store.add(2, 3, slot(3), 1, 1000, 1);
    store.remove(1);
    expect(store.find(1, 2)).toBe(-1);
    expect(store.list().map((letter) => letter.index)).toEqual([0, 2]);
    const { store: again, counts } = rebooted(nvram);
    expect(counts).toEqual({ held: 2, damaged: 0 });
    expect(again.list().map((letter) => letter.seq)).toEqual([1, 3]);
    // the freed entry is the one a new dead letter takes
    expect(store.add(3, 4, slot(4), 1, 1000, 1)).toBe(true);
    expect(store.find(3, 4)).toBe(1);
  });

  test('remove leaves a damaged entry as it is, on the device too', () => {
    const nvram = device();
    fresh(nvram).add(4, 1, slot(1), 1, 1000, 1); // recipient id 4: damaged at boot
    const { store, booted } = rebooted(nvram);
    expect(store.damaged()).toBe(1);
    store.remove(0);
    expect([store.held(), store.damaged(), store.free()]).toEqual([0, 1, 2]);
    const image = TracedNvram.fromImage(booted.buildDurableImage());
    expect(image.loadU64(entryAt(nvram, 0))).toBe(1);
  });
});
