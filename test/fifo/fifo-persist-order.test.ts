/**
 * The persistent FIFO's persist orders, instruction by instruction (src/fifo/fifo.ts): what an
 * append [213], a confirmation [216] and a retirement [217] store, flush and fence, and what a
 * boot then finds in the durable image. Each step names the word it touches: a record, a
 * confirmation word, the head or the tail word (with the value stored). The crash lab proves
 * these orders safe under every power cut; this file pins them, so that a flush, a fence or a
 * store left out, or one made twice, shows at once.
 */
import { describe, expect, test } from 'vitest';
import { PersistentFifo } from '../../src/fifo/fifo.js';
import { MirrorFifo } from '../../src/ha/mirror-fifo.js';
import { AssertionError } from '../../src/events/assert.js';
import {
  fifoOffsets,
  fifoSectionBytes,
  slotBytesFor,
  type FifoGeometry,
} from '../../src/fifo/layout.js';
import { NvramError, TracedNvram } from '../../src/nvram/index.js';
import {
  WordRole,
  decodeCounterWord,
  loadConfirmationMask,
  loadCounterWord,
} from '../../src/events/checked-word.js';
import { appendRecord, encodeRecordAt } from './fifo-records.js';

function geometry(slotCount: number): FifoGeometry {
  return { slotBytes: slotBytesFor(16), slotCount, detailsBytesMax: 16, recipientsMax: 3 };
}

interface Booted {
  device: TracedNvram;
  fifo: PersistentFifo;
  /** The device instructions since the last call, named by the word they touch. */
  steps: () => string[];
}

/** A FIFO booted on a formatted device that records its instructions. */
function bootedFifo(slotCount: number, image?: Uint8Array): Booted {
  const length = fifoSectionBytes(geometry(slotCount));
  let device: TracedNvram;
  if (image === undefined) {
    device = TracedNvram.format(4096 + length, [{ name: 'fifo', length }], { record: true });
    PersistentFifo.format(device, 'fifo', geometry(slotCount));
  } else device = TracedNvram.fromImage(image, { record: true });
  const fifo = new PersistentFifo(device, 'fifo', geometry(slotCount));
  fifo.recover();
  let mark = device.exportTrace().kinds.length;
  const steps = (): string[] => {
    const trace = device.exportTrace();
    const named: string[] = [];
    for (let i = mark; i < trace.kinds.length; i++) named.push(stepName(fifo, trace, i));
    mark = trace.kinds.length;
    return named;
  };
  return { device, fifo, steps };
}

function stepName(
  fifo: PersistentFifo,
  trace: ReturnType<TracedNvram['exportTrace']>,
  i: number,
): string {
  const kind = trace.kinds[i] as number;
  if (kind === 2) return 'fence';
  if (kind === 3) return 'fence issue';
  if (kind === 4) return 'fence completion';
  const offset = (trace.offsets[i] as number) - fifo.sectionOffset;
  const length = trace.lengths[i] as number;
  let word: string;
  if (offset === fifoOffsets.head) word = 'head';
  else if (offset === fifoOffsets.tail) word = 'tail';
  else {
    const slot = (offset - fifoOffsets.slots) / fifo.slotBytes;
    word = `${length === 8 ? 'confirmation' : 'record'} ${slot}`;
  }
  if (kind === 1) return `flush ${word}`;
  if (word === 'head' || word === 'tail') {
    const at = trace.dataOffsets[i] as number;
    const role = word === 'head' ? WordRole.head : WordRole.tail;
    return `store ${word} ${decodeCounterWord(trace.data.subarray(at, at + 8), role)}`;
  }
  return `store ${word}`;
}

/** Sets recipient 0's bit in the shadow's confirmation word of `position`, then defers it. */
function confirm(fifo: PersistentFifo, position: number): void {
  fifo.shadowView.setInt32(fifo.slotBase(position), 1, true);
  fifo.deferConfirmation(position);
}

/** What a boot from the durable image alone finds: pointer words, then the recovered range. */
function rebootFinds(booted: Booted): { head: number; tail: number; words: number[] } {
  const image = booted.device.buildDurableImage();
  const device = TracedNvram.fromImage(image);
  const fifo = booted.fifo;
  const words = [
    loadCounterWord(device, fifo.headOffset, WordRole.head),
    loadCounterWord(device, fifo.tailOffset, WordRole.tail),
  ];
  const recovery = new PersistentFifo(device, 'fifo', geometry(fifo.slotCount)).recover();
  return { head: recovery.head, tail: recovery.tail, words };
}

function durableConfirmation(booted: Booted, position: number): number {
  const device = TracedNvram.fromImage(booted.device.buildDurableImage());
  return loadConfirmationMask(device, booted.fifo.slotsOffset + booted.fifo.slotBase(position));
}

describe('append [213]', () => {
  test('one fence per record; a small ring flushes the tail word once it lags by two', () => {
    const booted = bootedFifo(4);
    const { fifo, steps } = booted;
    expect(steps()).toEqual([]); // a clean boot writes nothing
    appendRecord(fifo, 1);
    expect(steps()).toEqual(['store record 0', 'flush record 0', 'fence', 'store tail 1']);
    expect([fifo.tail, fifo.durableTail]).toEqual([1, 0]);
    appendRecord(fifo, 2);
    expect(steps()).toEqual([
      'store record 1',
      'flush record 1',
      'fence',
      'store tail 2',
      'flush tail',
    ]);
    expect(rebootFinds(booted)).toEqual({ head: 0, tail: 2, words: [0, 0] }); // D4 scans both
    appendRecord(fifo, 3); // its fence carries the flushed tail word 2
    expect(steps()).toEqual(['store record 2', 'flush record 2', 'fence', 'store tail 3']);
    expect([fifo.tail, fifo.durableTail]).toEqual([3, 2]);
    expect(rebootFinds(booted)).toEqual({ head: 0, tail: 3, words: [0, 2] });
  });

  test('a flushed tail word is owed a fence: confirmationsDurable makes it, once', () => {
    const { fifo, steps } = bootedFifo(4);
    appendRecord(fifo, 1);
    appendRecord(fifo, 2);
    steps();
    fifo.confirmationsDurable();
    expect(steps()).toEqual(['fence']);
    expect(fifo.durableTail).toBe(2);
    fifo.confirmationsDurable();
    fifo.persistPointers();
    expect(steps()).toEqual([]); // nothing owed any more
  });

  test('a ring of 64 slots keeps the tail word within one record, like smaller ones', () => {
    const { fifo, steps } = bootedFifo(64);
    appendRecord(fifo, 1);
    steps();
    appendRecord(fifo, 2);
    expect(steps()).toEqual([
      'store record 1',
      'flush record 1',
      'fence',
      'store tail 2',
      'flush tail',
    ]);
  });

  test('a ring of 128 slots lets the tail word lag by 16 records (an eighth)', () => {
    const { fifo, steps } = bootedFifo(128);
    for (let seq = 1; seq <= 17; seq++) appendRecord(fifo, seq);
    expect(steps().filter((step) => step === 'flush tail')).toEqual(['flush tail']);
    expect([fifo.tail, fifo.durableTail]).toEqual([17, 0]);
    appendRecord(fifo, 18); // its fence carries the word 17
    expect(fifo.durableTail).toBe(17);
  });
});

describe('confirmation [216] and retirement [217]', () => {
  test('nothing received, nothing owed: no fence', () => {
    const { fifo, steps } = bootedFifo(4);
    appendRecord(fifo, 1);
    steps();
    expect(fifo.confirmationsUnfenced).toBe(false);
    fifo.confirmationsDurable();
    expect(steps()).toEqual([]);
    fifo.persistPointers(); // the tail word 1 lags: flushed and fenced
    expect(steps()).toEqual(['flush tail', 'fence']);
    fifo.persistPointers();
    fifo.confirmationsDurable();
    expect(steps()).toEqual([]);
  });

  test('a deferred confirmation is stored, flushed and fenced by the next fence, alone', () => {
    const booted = bootedFifo(4);
    const { fifo, steps } = booted;
    for (let seq = 1; seq <= 3; seq++) appendRecord(fifo, seq);
    fifo.confirmationsDurable(); // the tail word flushed by the appends
    steps();
    confirm(fifo, 1);
    expect(steps()).toEqual([]);
    expect(fifo.confirmationsUnfenced).toBe(true);
    expect(durableConfirmation(booted, 1)).toBe(0);
    fifo.confirmationsDurable();
    expect(steps()).toEqual(['store confirmation 1', 'flush confirmation 1', 'fence']);
    expect(fifo.confirmationsUnfenced).toBe(false);
    expect(durableConfirmation(booted, 1)).toBe(1);
    fifo.confirmationsDurable();
    expect(steps()).toEqual([]);
  });

  test('retiring persists the head word with one fence; a retired event owes no confirmation', () => {
    const booted = bootedFifo(4);
    const { fifo, steps } = booted;
    for (let seq = 1; seq <= 3; seq++) appendRecord(fifo, seq);
    fifo.confirmationsDurable();
    steps();
    fifo.retire(0);
    expect(steps()).toEqual([]); // volatile until the next fence
    expect(fifo.persistedHead).toBe(0);
    fifo.persistPointers(); // the tail word 3 rides along
    expect(steps()).toEqual(['flush tail', 'store head 1', 'flush head', 'fence']);
    expect([fifo.head, fifo.persistedHead]).toEqual([1, 1]);
    expect(rebootFinds(booted)).toEqual({ head: 1, tail: 3, words: [1, 3] });
    fifo.persistPointers();
    expect(steps()).toEqual([]);
    fifo.shadowView.setInt32(fifo.slotBase(0), 1, true);
    fifo.deferConfirmation(0); // behind the durable head: nothing to store
    expect(fifo.confirmationsUnfenced).toBe(false);
    fifo.confirmationsDurable();
    expect(steps()).toEqual([]);
  });

  test('persistPointers flushes a lagging tail word and fences it, even with the head unmoved', () => {
    const booted = bootedFifo(4);
    const { fifo, steps } = booted;
    for (let seq = 1; seq <= 3; seq++) appendRecord(fifo, seq);
    steps();
    fifo.persistPointers();
    expect(steps()).toEqual(['flush tail', 'fence']);
    expect(rebootFinds(booted).words).toEqual([0, 3]);
  });

  test('the engine may prepare a fence twice before it: the head word is stored once', () => {
    const booted = bootedFifo(4);
    const { fifo, steps } = booted;
    for (let seq = 1; seq <= 3; seq++) appendRecord(fifo, seq);
    fifo.confirmationsDurable();
    confirm(fifo, 0);
    confirm(fifo, 1);
    fifo.retire(0);
    steps();
    fifo.prepareFence();
    expect(steps()).toEqual([
      'store confirmation 1', // the head word passes 0: its word is not stored
      'flush confirmation 1',
      'flush tail',
      'store head 1',
      'flush head',
    ]);
    fifo.prepareFence();
    expect(steps()).toEqual([]);
    fifo.confirmationsDurable(); // the prepared head word is owed its fence
    expect(steps()).toEqual(['fence']);
    expect(fifo.persistedHead).toBe(1);
    expect(rebootFinds(booted)).toEqual({ head: 1, tail: 3, words: [1, 3] });
    expect(durableConfirmation(booted, 1)).toBe(1);
  });

  test('a prepared head word alone is owed a fence', () => {
    const { fifo, steps } = bootedFifo(128); // the tail word is not flushed by the appends
    for (let seq = 1; seq <= 2; seq++) appendRecord(fifo, seq);
    fifo.retire(0);
    fifo.prepareFence();
    expect(steps().slice(-3)).toEqual(['flush tail', 'store head 1', 'flush head']);
    fifo.confirmationsDurable();
    expect(steps()).toEqual(['fence']);
    expect([fifo.persistedHead, fifo.durableTail]).toEqual([1, 2]);
  });
});

describe('the tail word stays below a torn record until the durable head passes it (D5)', () => {
  /** Position 0 durable; a group 1..3 cut inside its fence with only 1's first line written. */
  function tornAtOne(): Booted {
    const slotCount = 128; // the tail word lags: the scan finds the group
    const first = bootedFifo(slotCount);
    const { device, fifo } = first;
    appendRecord(fifo, 1);
    const group = [fifo.reserve(), fifo.reserve(), fifo.reserve()];
    group.forEach((position, k) => {
      encodeRecordAt(fifo, position, 2 + k);
      fifo.writeRecord(position);
    });
    const start = (position: number): number => fifo.slotsOffset + fifo.slotBase(position);
    const pending = device.pendingStores();
    const survivors = pending.ids.filter((_, k) => {
      const offset = pending.offsets[k] as number;
      return offset < start(1) + 64 || offset >= start(2); // 1 keeps its first line only
    });
    return bootedFifo(slotCount, device.buildImage(Float64Array.from(survivors)));
  }

  test('recovery stores the word below it; appends keep it there while the head is at it', () => {
    const booted = tornAtOne();
    const { fifo, steps } = booted;
    expect([fifo.head, fifo.tail, fifo.durableTail]).toEqual([0, 4, 1]);
    expect(rebootFinds(booted).words).toEqual([0, 1]);
    fifo.retire(0);
    fifo.persistPointers();
    expect(steps()).toEqual(['store head 1', 'flush head', 'fence']);
    expect(fifo.persistedHead).toBe(1); // at the torn record, not past it
    appendRecord(fifo, 5);
    expect(steps()).toEqual(['store record 4', 'flush record 4', 'fence', 'store tail 1']);
  });

  test('once the durable head is past it, the next flush stores and flushes the whole tail', () => {
    const booted = tornAtOne();
    const { fifo, steps } = booted;
    fifo.retire(0);
    fifo.retire(1);
    fifo.persistPointers();
    expect(steps()).toEqual(['store head 2', 'flush head', 'fence']);
    fifo.persistPointers();
    expect(steps()).toEqual(['store tail 4', 'flush tail', 'fence']);
    expect(fifo.durableTail).toBe(4);
    expect(rebootFinds(booted)).toEqual({ head: 2, tail: 4, words: [2, 4] });
  });
});

describe('order is asserted', () => {
  test('reserve without a free slot, append, retire or confirm out of order', () => {
    const { fifo } = bootedFifo(2);
    appendRecord(fifo, 1);
    const position = fifo.reserve(); // the last free slot
    expect(() => fifo.reserve()).toThrow(AssertionError);
    expect(() => fifo.commitAppend(position + 1)).toThrow(AssertionError);
    expect(() => fifo.deferConfirmation(position)).toThrow(AssertionError);
    encodeRecordAt(fifo, position, 2);
    fifo.commitAppend(position);
    expect(() => fifo.retire(1)).toThrow(AssertionError);
    fifo.retire(0);
    fifo.retire(1);
    expect(() => fifo.retire(2)).toThrow(AssertionError); // nothing published there
    fifo.head = 3; // a head past the tail: corrupt state, never fenced
    expect(() => fifo.prepareFence()).toThrow(AssertionError);
  });

  test('a group commit covers reserved positions past the tail', () => {
    const { fifo } = bootedFifo(4);
    appendRecord(fifo, 1);
    const position = fifo.reserve();
    encodeRecordAt(fifo, position, 2);
    fifo.writeRecord(position);
    for (const tail of [1, 3]) {
      expect(() => fifo.commitGroup(tail)).toThrow(AssertionError);
      expect(() => fifo.issueGroupFence(tail, () => {})).toThrow(AssertionError);
    }
    fifo.commitGroup(2);
    expect(fifo.tail).toBe(2);
  });
});

describe('pipelined group commit: what an asynchronous fence made durable', () => {
  /** Two appended, the first retired, two more written; fences complete when told. */
  function groupPending(slotCount: number): Booted {
    const booted = bootedFifo(slotCount);
    const { device, fifo } = booted;
    device.asyncFenceCompletion = 'manual';
    appendRecord(fifo, 1);
    appendRecord(fifo, 2);
    fifo.retire(0);
    for (let seq = 3; seq <= 4; seq++) {
      const position = fifo.reserve();
      encodeRecordAt(fifo, position, seq);
      fifo.writeRecord(position);
    }
    booted.steps();
    return booted;
  }

  test('its completion records the tail and head words it carried, then publishes', () => {
    const booted = groupPending(128);
    const { device, fifo, steps } = booted;
    const done: (Error | null)[] = [];
    fifo.issueGroupFence(4, (error) => done.push(error));
    expect(steps()).toEqual(['flush tail', 'store head 1', 'flush head', 'fence issue']);
    expect([fifo.tail, fifo.durableTail, fifo.persistedHead]).toEqual([2, 0, 0]);
    device.completeFence();
    expect(done).toEqual([null]);
    expect(steps()).toEqual(['fence completion', 'store tail 4']);
    expect([fifo.tail, fifo.durableTail, fifo.persistedHead]).toEqual([4, 2, 1]);
    expect(fifo.free()).toBe(125); // 128 slots, positions 1..3 in use
    fifo.confirmationsDurable(); // both words are durable: nothing owed
    expect(steps()).toEqual([]);
    expect(rebootFinds(booted)).toEqual({ head: 1, tail: 4, words: [1, 2] });
  });

  test('a head word prepared after the issue is still owed its own fence', () => {
    const { device, fifo, steps } = groupPending(128);
    fifo.issueGroupFence(4, () => {});
    fifo.retire(1);
    fifo.prepareFence(); // for another FIFO's fence: the head word 2
    expect(steps().slice(-2)).toEqual(['store head 2', 'flush head']);
    device.completeFence();
    expect(fifo.persistedHead).toBe(1);
    steps();
    fifo.confirmationsDurable();
    expect(steps()).toEqual(['fence']);
    expect(fifo.persistedHead).toBe(2);
  });

  test('a synchronous fence in between: nothing goes backwards, nothing is published twice', () => {
    const { device, fifo, steps } = groupPending(4);
    fifo.issueGroupFence(4, () => {});
    fifo.commitGroup(4); // a drain's fence overtakes it; the small ring flushes the tail word 4
    expect(steps()).toEqual([
      'store head 1', // the tail word 2 was flushed by the appends, not fenced yet
      'flush head',
      'fence issue',
      'fence',
      'store tail 4',
      'flush tail',
    ]);
    expect([fifo.tail, fifo.durableTail, fifo.persistedHead]).toEqual([4, 2, 1]);
    device.completeFence();
    expect(steps()).toEqual(['fence completion']);
    expect([fifo.tail, fifo.durableTail, fifo.persistedHead]).toEqual([4, 2, 1]);
    fifo.confirmationsDurable(); // the tail word 4 is still owed its fence
    expect(steps()).toEqual(['fence']);
    expect(fifo.durableTail).toBe(4);
  });

  test('confirmations stored by the issue are durable at completion, unless more came', () => {
    const { device, fifo, steps } = groupPending(128);
    confirm(fifo, 1);
    fifo.issueGroupFence(3, () => {});
    device.completeFence();
    expect(fifo.confirmationsUnfenced).toBe(false);
    confirm(fifo, 2);
    fifo.issueGroupFence(4, () => {});
    confirm(fifo, 2); // after the issue: only a later fence carries it
    device.completeFence();
    expect(fifo.confirmationsUnfenced).toBe(true);
    steps();
    fifo.confirmationsDurable();
    expect(steps()).toEqual(['store confirmation 2', 'flush confirmation 2', 'fence']);
  });

  test('a fence that fails records nothing and publishes nothing', async () => {
    const { device, fifo } = groupPending(128);
    confirm(fifo, 1);
    const done: unknown[] = [];
    fifo.issueGroupFence(4, (error) => done.push(error));
    device.close(); // the pending fence is reported NVRAM_CLOSED on the next turn
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toHaveLength(1);
    expect(done[0]).toBeInstanceOf(NvramError);
    expect((done[0] as NvramError).code).toBe('NVRAM_CLOSED');
    expect([fifo.tail, fifo.durableTail, fifo.persistedHead]).toEqual([2, 0, 0]);
    expect(fifo.confirmationsUnfenced).toBe(true);
  });
});

describe('a mirror FIFO moved past a stale range [193]', () => {
  test('skipTo stores the new tail word before flushing it, with the head word, in one fence', () => {
    const booted = bootedFifo(4);
    const mirror = new MirrorFifo(booted.device, 'fifo', geometry(4));
    mirror.recover();
    booted.steps();
    mirror.skipTo(1);
    expect(booted.steps()).toEqual([
      'store tail 1',
      'flush tail',
      'store head 1',
      'flush head',
      'fence',
    ]);
    expect(rebootFinds(booted)).toEqual({ head: 1, tail: 1, words: [1, 1] });
  });
});
