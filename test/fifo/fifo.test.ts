/**
 * The persistent FIFO against a far simpler in-memory model (fast-check model-based testing):
 * append, confirm out of order, retire, and reboot from the durable image. The model knows
 * only what is durable: a record once appended, a confirmation once fenced, the head once
 * advanced; a reboot must recover exactly that.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { PersistentFifo, SlotVerdict } from '../../src/fifo/fifo.js';
import {
  fifoOffsets,
  fifoSectionBytes,
  slotBytesFor,
  type FifoGeometry,
} from '../../src/fifo/layout.js';
import { getU64, writeRecord } from '../../src/events/record.js';
import { TracedNvram } from '../../src/nvram/index.js';
import { NodeError } from '../../src/events/errors.js';
import {
  WordRole,
  loadConfirmationMask,
  loadCounterWord,
  storeCounterWord,
} from '../../src/events/checked-word.js';
import { appendRecord, source, type } from './fifo-records.js';

const seed = Number(process.env['FC_SEED'] ?? 20_251_126);
const recipientCount = 3;
const allRecipients = (1 << recipientCount) - 1;

function geometry(slotCount: number): FifoGeometry {
  return {
    slotBytes: slotBytesFor(16),
    slotCount,
    detailsBytesMax: 16,
    recipientsMax: recipientCount,
  };
}

/** A formatted device holding one FIFO section named 'fifo'. */
function freshDevice(slotCount: number): TracedNvram {
  const length = fifoSectionBytes(geometry(slotCount));
  const device = TracedNvram.format(4096 + length, [{ name: 'fifo', length }]);
  PersistentFifo.format(device, 'fifo', geometry(slotCount));
  return device;
}

interface ModelEvent {
  seq: number;
  intended: number;
  /** Confirmed in memory (what the FIFO's shadow holds). */
  confirmed: number;
  /** Confirmed durably (fenced): what a reboot must find. */
  durable: number;
}

interface Model {
  slotCount: number;
  /** Published events not yet retired durably, oldest first. */
  events: ModelEvent[];
  nextSeq: number;
}

interface Real {
  device: TracedNvram;
  fifo: PersistentFifo;
}

class Append implements fc.Command<Model, Real> {
  constructor(
    readonly intended: number,
    readonly details: number,
  ) {}
  check(model: Readonly<Model>): boolean {
    return model.events.length < model.slotCount;
  }
  run(model: Model, real: Real): void {
    const fifo = real.fifo;
    expect(fifo.free()).toBe(model.slotCount - model.events.length);
    const position = fifo.reserve();
    const base = fifo.slotBase(position);
    fifo.shadowView.setFloat64(base + 32, position, true);
    writeRecord(
      fifo.buffer,
      base,
      position,
      model.nextSeq,
      6,
      0,
      this.intended,
      0,
      0,
      source,
      type,
      new Uint8Array(this.details).fill(this.details),
    );
    fifo.commitAppend(position);
    // SPEC 3: the append's fences also make every flushed confirmation durable
    for (const event of model.events) event.durable = event.confirmed;
    model.events.push({ seq: model.nextSeq, intended: this.intended, confirmed: 0, durable: 0 });
    model.nextSeq += 1 + (this.details % 3);
    expect(fifo.tail - fifo.head).toBe(model.events.length);
  }
  toString(): string {
    return `append(intended=${this.intended}, details=${this.details})`;
  }
}

class Confirm implements fc.Command<Model, Real> {
  constructor(
    readonly pick: number,
    readonly recipient: number,
  ) {}
  check(model: Readonly<Model>): boolean {
    return model.events.length > 0;
  }
  run(model: Model, real: Real): void {
    const index = this.pick % model.events.length;
    const event = model.events[index] as ModelEvent;
    const bit = 1 << this.recipient;
    if ((event.intended & bit) === 0) return; // not intended: nothing to confirm
    const fifo = real.fifo;
    const position = fifo.head + index;
    const base = fifo.slotBase(position);
    expect(getU64(fifo.shadowView, base + 24)).toBe(event.seq);
    event.confirmed |= bit;
    fifo.shadowView.setInt32(base, event.confirmed, true);
    fifo.deferConfirmation(position); // stored by the next fence unless the head passes it
  }
  toString(): string {
    return `confirm(pick=${this.pick}, recipient=${this.recipient})`;
  }
}

/** A fence for confirmations (the engine does one at the end of every drain pass). */
class Fence implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    real.fifo.confirmationsDurable();
    for (const event of model.events) event.durable = event.confirmed;
  }
  toString(): string {
    return 'fence';
  }
}

/** Retires every completely handled event at the head [217], then persists the head. */
class Retire implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const fifo = real.fifo;
    while (
      model.events.length > 0 &&
      (model.events[0] as ModelEvent).confirmed === (model.events[0] as ModelEvent).intended
    ) {
      fifo.retire(fifo.head);
      model.events.shift();
    }
    fifo.persistPointers(); // step 217 now: one fence with the confirmations and both words
    fifo.confirmationsDurable(); // as the engine does at the end of every pass
    for (const event of model.events) event.durable = event.confirmed;
    expect(fifo.persistedHead).toBe(fifo.head);
  }
  toString(): string {
    return 'retire';
  }
}

/** Power off and on with only durable state (image index 0), then recover. */
class Reboot implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const image = real.device.buildDurableImage();
    real.device = TracedNvram.fromImage(image);
    real.fifo = new PersistentFifo(real.device, 'fifo', geometry(model.slotCount));
    const recovery = real.fifo.recover();
    expect(recovery.salvaged).toBeNull();
    expect(recovery.discarded).toBe(0);
    expect(recovery.tail - recovery.head).toBe(model.events.length);
    model.events.forEach((event, i) => {
      const position = recovery.head + i;
      const base = real.fifo.slotBase(position);
      expect(recovery.verdicts[i]).toBe(SlotVerdict.valid);
      expect(getU64(real.fifo.shadowView, base + 24)).toBe(event.seq);
      expect(real.fifo.shadowView.getInt32(base + 40, true)).toBe(event.intended);
      expect(real.fifo.shadowView.getInt32(base, true)).toBe(event.durable);
      event.confirmed = event.durable; // unfenced confirmations are lost: they will be redelivered
    });
  }
  toString(): string {
    return 'reboot';
  }
}

const commands = [
  fc
    .tuple(fc.integer({ min: 0, max: allRecipients }), fc.nat({ max: 16 }))
    .map(([i, d]) => new Append(i, d)),
  fc.tuple(fc.nat(), fc.nat({ max: recipientCount - 1 })).map(([p, r]) => new Confirm(p, r)),
  fc.constant(new Fence()),
  fc.constant(new Retire()),
  fc.constant(new Reboot()),
];

describe('PersistentFifo', () => {
  test('behaves like the model across appends, out-of-order confirmations, retires and reboots', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.commands(commands, { maxCommands: 60 }),
        (slotCount, cmds) => {
          const device = freshDevice(slotCount);
          const fifo = new PersistentFifo(device, 'fifo', geometry(slotCount));
          fifo.recover();
          const model: Model = { slotCount, events: [], nextSeq: 1 };
          fc.modelRun(() => ({ model, real: { device, fifo } }), cmds);
        },
      ),
      { seed, numRuns: 500 },
    );
  });

  test('a fresh FIFO recovers empty at counter 0', () => {
    const device = freshDevice(4);
    const recovery = new PersistentFifo(device, 'fifo', geometry(4)).recover();
    expect([recovery.head, recovery.tail, recovery.discarded]).toEqual([0, 0, 0]);
  });

  test('a damaged descriptor stops recovery with NODE_CORRUPT', () => {
    const device = freshDevice(4);
    const section = device.section('fifo');
    device.storeU32(section.offset + fifoOffsets.slotCount, 5);
    expect(() => new PersistentFifo(device, 'fifo', geometry(4)).recover()).toThrow(NodeError);
  });

  test('invalid pointers are salvaged from the slots, and a second recovery agrees', () => {
    const device = freshDevice(4);
    const fifo = new PersistentFifo(device, 'fifo', geometry(4));
    fifo.recover();
    for (let seq = 1; seq <= 6; seq++) {
      appendRecord(fifo, seq);
      if (seq <= 3) {
        fifo.retire(fifo.head);
        fifo.persistPointers();
      }
    }
    // positions 3..5 pending; damage the tail word beyond head + slotCount
    storeCounterWord(device, fifo.tailOffset, WordRole.tail, 2 ** 40);
    const first = new PersistentFifo(device, 'fifo', geometry(4)).recover();
    expect(first.salvaged).not.toBeNull();
    expect([first.head, first.tail]).toEqual([3, 6]); // the intact head word bounds the run
    const second = new PersistentFifo(
      TracedNvram.fromImage(device.buildDurableImage()),
      'fifo',
      geometry(4),
    ).recover();
    expect(second.salvaged).toBeNull();
    expect([second.head, second.tail]).toEqual([3, 6]);
  });

  test('a record that fails its check between head and tail is discarded, not trusted', () => {
    const device = freshDevice(4);
    const fifo = new PersistentFifo(device, 'fifo', geometry(4));
    fifo.recover();
    for (let seq = 1; seq <= 3; seq++) {
      appendRecord(fifo, seq);
    }
    device.flipBits(fifo.slotsOffset + fifo.slotBytes + 20, 1, 1, 7); // inside record 1's position field
    const recovery = new PersistentFifo(device, 'fifo', geometry(4)).recover();
    expect(Array.from(recovery.verdicts).map((v) => v === SlotVerdict.valid)).toEqual([
      true,
      false,
      true,
    ]);
    expect(recovery.discarded).toBe(1);
  });

  test('a fence carries the head word, and only the confirmation words the head does not pass', () => {
    const device = freshDevice(4);
    const fifo = new PersistentFifo(device, 'fifo', geometry(4));
    fifo.recover();
    const durable = (): TracedNvram => TracedNvram.fromImage(device.buildDurableImage());
    const word = (image: TracedNvram, position: number): number =>
      loadConfirmationMask(image, fifo.slotsOffset + fifo.slotBase(position));
    const positions = [1, 2, 3].map((seq) => appendRecord(fifo, seq));
    for (const position of positions) {
      fifo.shadowView.setInt32(fifo.slotBase(position), 1, true);
      fifo.deferConfirmation(position); // nothing stored yet
    }
    expect(word(durable(), 0)).toBe(0);
    fifo.retire(0);
    fifo.retire(1); // 2 stays: say the engine has not reached it yet
    fifo.confirmationsDurable(); // one fence: the head word past 0 and 1, the word of 2
    const image = durable();
    expect(loadCounterWord(image, fifo.headOffset, WordRole.head)).toBe(2);
    expect([word(image, 0), word(image, 1), word(image, 2)]).toEqual([0, 0, 1]);
    expect([fifo.persistedHead, fifo.durableTail]).toEqual([2, 3]);
  });

  test('deferred confirmations past the list\u2019s capacity are stored at once, not dropped', () => {
    const device = freshDevice(4); // the list holds min(slotCount, 4096) = 4 positions
    const fifo = new PersistentFifo(device, 'fifo', geometry(4));
    fifo.recover();
    const positions = [1, 2, 3].map((seq) => appendRecord(fifo, seq));
    const word = (position: number): number =>
      loadConfirmationMask(device, fifo.slotsOffset + fifo.slotBase(position));
    for (const [bit, position] of [1, 2].flatMap((b) => positions.map((p) => [b, p] as const))) {
      const base = fifo.slotBase(position);
      fifo.shadowView.setInt32(base, fifo.shadowView.getInt32(base, true) | bit, true);
      fifo.deferConfirmation(position); // the fifth one finds the list full
    }
    // stored as the shadow held them when the list filled: 1 | 2 for the first two, 1 for the last
    expect(positions.map(word)).toEqual([3, 3, 1]);
    fifo.confirmationsDurable();
    const image = TracedNvram.fromImage(device.buildDurableImage());
    expect(
      positions.map((p) => loadConfirmationMask(image, fifo.slotsOffset + fifo.slotBase(p))),
    ).toEqual([3, 3, 3]);
  });

  test('in a large ring the durable tail word trails by at most 64 slots (one group)', () => {
    const slotCount = 1024; // an eighth is 128: the 64-slot bound decides
    const device = freshDevice(slotCount);
    const fifo = new PersistentFifo(device, 'fifo', geometry(slotCount));
    fifo.recover();
    let lagMax = 0;
    for (let seq = 1; seq <= 300; seq++) {
      appendRecord(fifo, seq);
      const durable = TracedNvram.fromImage(device.buildDurableImage());
      lagMax = Math.max(
        lagMax,
        fifo.tail - loadCounterWord(durable, fifo.tailOffset, WordRole.tail),
      );
    }
    expect(lagMax).toBeGreaterThan(1); // a lag there is: the word is a hint
    expect(lagMax).toBeLessThanOrEqual(64 + 1);
  });

  test('a head word durable past a stale tail word (a cut inside their fence) is taken (D2)', () => {
    const device = freshDevice(8);
    const fifo = new PersistentFifo(device, 'fifo', geometry(8));
    fifo.recover();
    for (let seq = 1; seq <= 4; seq++) appendRecord(fifo, seq);
    storeCounterWord(device, fifo.tailOffset, WordRole.tail, 1); // the tail word as it was two fences ago
    storeCounterWord(device, fifo.headOffset, WordRole.head, 3); // the head word of the cut-short fence landed
    const recovery = new PersistentFifo(device, 'fifo', geometry(8)).recover();
    expect(recovery.salvaged).toBeNull();
    expect([recovery.head, recovery.tail, recovery.discarded]).toEqual([3, 4, 0]);
    expect(loadCounterWord(device, fifo.tailOffset, WordRole.tail)).toBe(4); // the scanned tail word, persisted
  });

  test('a head word past the tail word without its record before it is salvaged (D3)', () => {
    const device = freshDevice(8);
    const fifo = new PersistentFifo(device, 'fifo', geometry(8));
    fifo.recover();
    for (let seq = 1; seq <= 2; seq++) appendRecord(fifo, seq);
    storeCounterWord(device, fifo.headOffset, WordRole.head, 5); // past anything ever published: a damaged word
    const recovery = new PersistentFifo(device, 'fifo', geometry(8)).recover();
    expect(recovery.salvaged).toEqual({ head: 0, tail: 2 });
    expect([recovery.head, recovery.tail]).toEqual([0, 2]);
  });
});

describe('a power cut inside a group commit\u2019s fence (row D5)', () => {
  test('first record torn, second whole: a px86 state; the scan passes the torn one', () => {
    const slotCount = 128; // the tail word lags: the scan finds the group
    const device = freshDevice(slotCount);
    const fifo = new PersistentFifo(device, 'fifo', geometry(slotCount));
    fifo.recover();
    appendRecord(fifo, 1); // position 0, durable
    const group = [fifo.reserve(), fifo.reserve()]; // positions 1 and 2, as commitGroup's records
    group.forEach((position, k) => {
      writeRecord(
        fifo.buffer,
        fifo.slotBase(position),
        position,
        2 + k,
        6,
        0,
        1,
        0,
        0,
        source,
        type,
        null,
      );
      fifo.writeRecord(position); // stored and flushed; the cut comes before the fence
    });
    const pending = device.pendingStores();
    const slotStart = (position: number): number => fifo.slotsOffset + fifo.slotBase(position);
    const survivors: number[] = [];
    pending.ids.forEach((id, k) => {
      const offset = pending.offsets[k] as number;
      const inFirst = offset >= slotStart(1) && offset < slotStart(1) + 64; // its first line only
      const inSecond = offset >= slotStart(2) && offset < slotStart(2) + fifo.slotBytes;
      if (inFirst || inSecond) survivors.push(id);
    });
    const ids = Float64Array.from(survivors);
    expect(device.allows('px86', ids)).toBe(true); // whole lines: a state px86 allows
    const after = TracedNvram.fromImage(device.buildImage(ids));
    const recovery = new PersistentFifo(after, 'fifo', geometry(slotCount)).recover();
    expect([recovery.head, recovery.tail]).toEqual([0, 3]);
    expect(Array.from(recovery.verdicts)).toEqual([
      SlotVerdict.valid,
      SlotVerdict.torn,
      SlotVerdict.valid,
    ]);
    expect(recovery.torn).toEqual([{ position: 1, reason: 'bad-checksum' }]);
    expect(recovery.salvaged).toBeNull();
  });
});

describe('a power cut inside the fence that carries the pointer words', () => {
  test('every px86 image recovers without salvage, the head old or new, nothing pending lost', () => {
    const slotCount = 128; // above tailLagSmallRingSlots: the tail word lags
    const device = freshDevice(slotCount);
    const fifo = new PersistentFifo(device, 'fifo', geometry(slotCount));
    fifo.recover();
    for (let seq = 1; seq <= 6; seq++) appendRecord(fifo, seq);
    expect(fifo.durableTail).toBeLessThan(6); // the tail word is a lagging hint
    for (let position = 0; position < 5; position++) {
      fifo.shadowView.setInt32(fifo.slotBase(position), 1, true);
      fifo.deferConfirmation(position);
    }
    for (let position = 0; position < 4; position++) fifo.retire(position); // 4 stays: not reached
    fifo.prepareFence(); // the stores of the fence: 4's word, the tail and head words; then the cut
    const images = device.imageCount('px86');
    let headPastTailWord = 0;
    for (let index = 0; index < images; index++) {
      const image = device.buildImage(device.survivorsByIndex('px86', index));
      const after = TracedNvram.fromImage(image);
      const words = [
        loadCounterWord(after, fifo.headOffset, WordRole.head),
        loadCounterWord(after, fifo.tailOffset, WordRole.tail),
      ];
      if ((words[0] as number) > (words[1] as number)) headPastTailWord++;
      const recovery = new PersistentFifo(after, 'fifo', geometry(slotCount)).recover();
      expect(recovery.salvaged).toBeNull();
      expect([0, 4]).toContain(recovery.head);
      expect(recovery.tail).toBe(6); // every published record, found past the head by row D4
      expect(recovery.discarded).toBe(0);
      // event 4 is confirmed in the image exactly when its word survived
      const word = loadConfirmationMask(after, fifo.slotsOffset + fifo.slotBase(4));
      expect([0, 1]).toContain(word);
    }
    expect(images).toBeGreaterThan(1);
    expect(headPastTailWord).toBeGreaterThan(0); // row D2's second case was reached
  });
});
