/**
 * The engine outside a pass, and at a pass end: examine() loads a recovered entry the first
 * time only (rows R1/R2; a damaged record is discarded once), an engine built on its own fences
 * its pass's confirmations [216] and throws a device error as it is, and the pass-end fence
 * stores every FIFO's confirmation words before the first fence, so one fence carries them all.
 */
import { describe, expect, test } from 'vitest';
import { FailingNvram } from '../../sim/device-errors.js';
import { DistributionEngine } from '../../src/engine/distribution-engine.js';
import { entryFlagUnexamined } from '../../src/engine/indication-queue.js';
import { loadConfirmationMask } from '../../src/events/checked-word.js';
import type { PersistentFifo } from '../../src/fifo/fifo.js';
import { NvramError } from '../../src/nvram/errors.js';
import { TracedNvram } from '../../src/nvram/index.js';
import { Node } from '../../src/node/node.js';
import { ManualClock, bootNode, freshDevice, rebootDurable, smallLimits } from './harness.js';

/** Two events recorded for 'r' and left unconfirmed; the second record damaged on the device. */
function recoveredPair() {
  const first = bootNode();
  first.node.registerRecipient('r', {}, () => {});
  first.node.start();
  const p = first.node.producer('p');
  const seqs = [p.emit('t', 'err'), p.emit('t', 'err')];
  first.node.drain();
  first.node.close();
  const fifo = first.node.fifos[1] as PersistentFifo;
  const device = rebootDurable(first.device);
  device.flipBits(fifo.slotsOffset + fifo.slotBase(1) + 24, 8, 1, 7); // in the second's seq
  const { node } = bootNode(device);
  const queue = node.queue;
  const at = (k: number): number => (queue.head + k) % queue.capacity;
  return { node, seqs, queue, at };
}

describe('examine', () => {
  test('a recovered entry is loaded once: a valid one gets its fields, a damaged one is discarded once', () => {
    const { node, seqs, queue, at } = recoveredPair();
    expect(queue.length()).toBe(2);
    for (const k of [0, 1])
      expect((queue.flags[at(k)] as number) & entryFlagUnexamined).not.toBe(0);
    node.engine.examine(at(0));
    expect((queue.flags[at(0)] as number) & entryFlagUnexamined).toBe(0);
    expect([queue.seq[at(0)], queue.intendedLo[at(0)]]).toEqual([seqs[0], 1]);
    node.engine.examine(at(1));
    node.engine.examine(at(1));
    node.engine.examine(at(0));
    expect((queue.flags[at(1)] as number) & entryFlagUnexamined).toBe(0);
    expect([queue.intendedLo[at(1)], node.counters.discarded, node.recovery.discarded]).toEqual([
      0, 1, 1,
    ]);
  });

  test('an engine on its own throws an error met while examining as it is', () => {
    const { node, at } = recoveredPair();
    const engine = new DistributionEngine(
      node.queue,
      node.fifos,
      node.types,
      node.sources,
      node.deadLetters,
      node.time,
      smallLimits.recipientsMax as number,
    );
    const error = new NvramError('NVRAM_IO', 'read failed');
    engine.onDiscard = () => {
      throw error;
    };
    engine.examine(at(0));
    let thrown: unknown = null;
    try {
      engine.examine(at(1));
    } catch (caught) {
      thrown = caught;
    }
    expect(thrown).toBe(error);
  });
});

describe('the pass-end fence', () => {
  test('an engine on its own fences the confirmations at the end of each pass', () => {
    const { node } = bootNode();
    const r = node.registerRecipient('r', {}, () => {});
    node.registerRecipient('holder', {}, () => {});
    node.start();
    const seq = node.producer('p').emit('t', 'err');
    node.drain();
    const engine = new DistributionEngine(
      node.queue,
      node.fifos,
      node.types,
      node.sources,
      node.deadLetters,
      node.time,
      smallLimits.recipientsMax as number,
    );
    expect(r.confirm(seq)).toBe(true);
    expect(engine.confirmationsPending()).toBe(true);
    expect(engine.drain()).toBe(false);
    expect(engine.confirmationsPending()).toBe(false);
  });

  test("every FIFO's confirmation words are stored before the first fence", () => {
    const device = new FailingNvram(freshDevice(), null);
    const node = Node.boot(device, { scheduling: 'manual', clock: new ManualClock() });
    node.registerRecipient('a', {}, (event, r) => void r.confirm(event.seq));
    node.registerRecipient('holder', {}, () => {});
    node.producer('p').emit('boot.t', 'err'); // the boot FIFO
    node.start();
    node.producer('p').emit('run.t', 'err'); // the runtime FIFO
    node.commit();
    // the pass-end fence is two fences (one per FIFO); the second fails
    device.plan = { operation: 'fence', index: device.counts.fence + 2 };
    expect(() => node.engine.drain()).toThrow(NvramError);
    const durable = TracedNvram.fromImage((device.inner as TracedNvram).buildDurableImage());
    const masks = node.fifos.map((fifo) =>
      loadConfirmationMask(durable, fifo.slotsOffset + fifo.slotBase(0)),
    );
    expect(masks).toEqual([1, 1]); // 'a' confirmed both, durable after the first fence
  });
});
