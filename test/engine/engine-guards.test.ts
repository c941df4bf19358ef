/**
 * The distribution engine's guards (src/engine/distribution-engine.ts): once the node failed,
 * a pass, a retirement and a refusal (of an event in flight or not) throw the failure and
 * change nothing; a pass started from
 * inside a handler returns at once; examining an entry already examined does nothing.
 */
import { describe, expect, test } from 'vitest';
import { FailingNvram } from '../../sim/device-errors.js';
import { Node } from '../../src/node/node.js';
import { ManualClock, bytes, freshDevice } from './harness.js';

describe('the distribution engine', () => {
  test('after a failure a pass, a retirement and a refusal throw NODE_FAILED', () => {
    const device = new FailingNvram(freshDevice(), null);
    const node = Node.boot(device, { scheduling: 'manual', clock: new ManualClock() });
    const taken: number[] = [];
    const audit = node.registerRecipient('audit', {}, (event) => taken.push(event.seq));
    node.start();
    const seq = node.producer('raid').emit('disk.failed', 'err', bytes(1));
    node.drain();
    expect(taken).toEqual([seq]);
    device.failNext('store');
    expect(() => node.producer('raid').emit('disk.failed', 'err', bytes(2))).toThrow(
      expect.objectContaining({ code: 'NODE_FAILED' }),
    );
    const failed = expect.objectContaining({ code: 'NODE_FAILED' });
    expect(() => node.engine.drain()).toThrow(failed);
    expect(() => audit.refuse(seq, 400)).toThrow(failed);
    expect(() => audit.refuse(seq + 1_000, 400)).toThrow(failed); // never in flight
    expect(() => node.engine.deadLetterOwed(5, 1)).toThrow(failed);
    expect(taken).toEqual([seq]);
  });

  test('a pass started from inside a handler returns false; the outer pass goes on', () => {
    const node = Node.boot(freshDevice(), { scheduling: 'manual', clock: new ManualClock() });
    const inner: boolean[] = [];
    node.registerRecipient('audit', {}, (event, r) => {
      inner.push(node.engine.drain());
      r.confirm(event.seq);
    });
    node.start();
    node.producer('raid').emit('disk.failed', 'err', bytes(1));
    node.producer('raid').emit('disk.failed', 'err', bytes(2));
    expect(node.engine.drain()).toBe(true);
    expect(inner).toEqual([false, false]);
    expect(node.stats().counters.confirmed).toBe(2);
    node.close();
  });

  test('examining an entry a pass already examined changes nothing', () => {
    const node = Node.boot(freshDevice(), { scheduling: 'manual', clock: new ManualClock() });
    node.registerRecipient('audit', {}, () => {});
    node.start();
    node.producer('raid').emit('disk.failed', 'err', bytes(1));
    node.drain();
    const queue = node.queue;
    const i = queue.head % queue.capacity;
    const before = { flags: queue.flags[i], seq: queue.seq[i], intended: queue.intendedLo[i] };
    node.engine.examine(i);
    expect({ flags: queue.flags[i], seq: queue.seq[i], intended: queue.intendedLo[i] }).toEqual(
      before,
    );
    node.close();
  });
});
