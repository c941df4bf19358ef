/**
 * What the distribution engine does around a handler call [215, 216]: a handler's own error
 * counts as unconfirmed (per recipient and in total) while a device error or a broken
 * invariant stops the node; a confirmation is timed from the first delivery; a confirmation or
 * refusal outside a pass asks for another pass, one inside a pass does not; confirmations not
 * fenced yet are reported pending until a pass end fences them; and the engine lists its
 * recipients by id and in registration order.
 */
import { describe, expect, test } from 'vitest';
import { FailingNvram } from '../../sim/device-errors.js';
import { AssertionError } from '../../src/events/assert.js';
import { NvramError } from '../../src/nvram/errors.js';
import { Node } from '../../src/node/node.js';
import { ManualClock, bootNode, freshDevice, smallLimits } from './harness.js';

const failed = expect.objectContaining({ code: 'NODE_FAILED' });

describe('handler errors', () => {
  test("a handler's own error is counted for its recipient and in total, then retried", () => {
    const { node, clock } = bootNode(freshDevice(), { retry: { timeoutMs: 10, attemptsMax: 3 } });
    let calls = 0;
    node.registerRecipient('r', {}, (event, recipient) => {
      if (++calls === 1) throw new Error('recipient bug');
      recipient.confirm(event.seq);
    });
    node.start();
    node.producer('p').emit('t', 'err');
    node.drain();
    clock.advance(10);
    node.drain();
    expect(node.stats().recipients[0]).toMatchObject({
      delivered: 1,
      redelivered: 1,
      confirmed: 1,
      handlerErrors: 1,
    });
    expect(node.stats().counters.handlerErrors).toBe(1);
  });

  // the node throws NODE_FAILED for a device error, and a broken invariant as it is
  for (const [what, error, thrown] of [
    ['a device error', new NvramError('NVRAM_IO', 'msync failed'), failed],
    ['a broken invariant', new AssertionError('queue order'), AssertionError],
  ] as const) {
    test(`${what} thrown by a handler stops the node; it is not a handler error`, () => {
      const { node } = bootNode();
      node.registerRecipient('r', {}, () => {
        throw error;
      });
      node.start();
      node.producer('p').emit('t', 'err');
      expect(() => node.drain()).toThrow(thrown);
      expect(node.phase).toBe('failed');
      expect(node.failure?.cause).toBe(error);
      expect(node.counters.handlerErrors).toBe(0);
    });
  }

  test('a handler that lets a failed emit through is not counted: the node failed', () => {
    const device = new FailingNvram(freshDevice(), null);
    const node = Node.boot(device, { scheduling: 'manual', clock: new ManualClock() });
    const r = node.registerRecipient('r', {}, () => {
      device.failNext('store');
      node.producer('p').emit('t', 'err'); // throws NODE_FAILED, a NodeError
    });
    node.start();
    node.producer('p').emit('t', 'err');
    expect(() => node.drain()).toThrow(failed);
    expect(node.phase).toBe('failed');
    expect([r.handlerErrors, node.counters.handlerErrors]).toEqual([0, 0]);
  });
});

describe('confirmations', () => {
  test('each in-window confirmation is timed from the first delivery', () => {
    const { node, clock } = bootNode(freshDevice(), { retry: { timeoutMs: 10, attemptsMax: 3 } });
    const latencies: [string, number][] = [];
    node.engine.onConfirmLatency = (recipient, ms) => void latencies.push([recipient.name, ms]);
    const slow = node.registerRecipient('slow', {}, () => {});
    node.registerRecipient('quick', {}, (event, r) => void r.confirm(event.seq));
    node.start();
    const seq = node.producer('p').emit('t', 'err');
    node.drain();
    clock.advance(15);
    node.drain(); // the second attempt for 'slow'
    clock.advance(15);
    expect(slow.confirm(seq)).toBe(true);
    expect(latencies).toEqual([
      ['quick', 0],
      ['slow', 30],
    ]);
  });

  test('a confirmation or refusal outside a pass asks for a pass; one inside a pass does not', () => {
    const { node } = bootNode();
    let asked = 0;
    node.engine.onConfirmed = () => void asked++;
    const inside = node.registerRecipient('inside', {}, (event, r) => {
      if (event.type === 'a') r.confirm(event.seq);
      else r.refuse(event.seq, 400);
    });
    const outside = node.registerRecipient('outside', {}, () => {});
    node.start();
    const p = node.producer('p');
    const a = p.emit('a', 'err');
    const b = p.emit('b', 'err');
    node.drain();
    expect([inside.confirmed, inside.deadLettered, asked]).toEqual([1, 1, 0]);
    expect(outside.confirm(a)).toBe(true);
    expect(asked).toBe(1);
    expect(outside.refuse(b, 404)).toBe(true);
    expect(asked).toBe(2);
    expect(outside.confirmed).toBe(1);
    node.drain();
    expect(node.idle()).toBe(true);
  });

  test('confirmations are pending until a pass end fences them', () => {
    const { node } = bootNode();
    const r = node.registerRecipient('r', {}, () => {});
    node.registerRecipient('holder', {}, () => {});
    node.start();
    const seq = node.producer('p').emit('t', 'err');
    node.drain();
    expect(node.engine.confirmationsPending()).toBe(false);
    expect(r.confirm(seq)).toBe(true);
    expect(node.engine.confirmationsPending()).toBe(true);
    node.drain();
    expect(node.engine.confirmationsPending()).toBe(false);
  });

  test('a device error storing deferred confirmation words fails the node (in flight or owed)', () => {
    for (const path of ['in flight', 'owed'] as const) {
      const device = new FailingNvram(freshDevice({ ...smallLimits, runtimeSlots: 2 }), null);
      const node = Node.boot(device, { scheduling: 'manual', clock: new ManualClock() });
      const a = node.registerRecipient('a', {}, () => {});
      const b = node.registerRecipient('b', {}, () => {}, { inFlightMax: 1 });
      node.start();
      const p = node.producer('p');
      const seqs = [p.emit('t', 'err'), p.emit('t', 'err')];
      node.drain();
      expect(b.inFlight()).toBe(1); // the second is owed, not in flight
      for (const seq of seqs) expect(a.confirm(seq)).toBe(true); // the deferred list is full
      device.failNext('store');
      const seq = path === 'in flight' ? seqs[0] : seqs[1];
      expect(() => b.confirm(seq as number)).toThrow(failed);
      expect(node.phase).toBe('failed');
      expect(node.failure?.cause).toBe(device.failed);
    }
  });

  test('a device error writing a refused event dead letter fails the node', () => {
    const device = new FailingNvram(freshDevice(), null);
    const node = Node.boot(device, { scheduling: 'manual', clock: new ManualClock() });
    const r = node.registerRecipient('r', {}, () => {});
    node.start();
    const seq = node.producer('p').emit('t', 'err');
    node.drain();
    device.failNext('store');
    expect(() => r.refuse(seq, 400)).toThrow(failed);
    expect(node.phase).toBe('failed');
  });
});

describe('the recipient lists', () => {
  test('recipients by id, one entry per id up to recipientsMax; active ones in registration order', () => {
    const { node } = bootNode();
    const a = node.registerRecipient('a', {}, () => {});
    const b = node.registerRecipient('b', {}, () => {});
    expect(node.engine.recipients).toHaveLength(smallLimits.recipientsMax as number);
    expect([node.engine.recipients[0], node.engine.recipients[1]]).toEqual([a, b]);
    expect(node.engine.recipients.slice(2).every((r) => r === undefined)).toBe(true);
    expect(node.engine.active.map((r) => r.name)).toEqual(['a', 'b']);
  });

  test('a pass is draining only while it runs: a handler cannot retire a recipient', () => {
    const { node } = bootNode();
    const seen: unknown[] = [];
    node.registerRecipient('r', {}, (event, r) => {
      seen.push(node.engine.draining);
      try {
        node.retireRecipient('gone');
      } catch (error) {
        seen.push((error as { code?: string }).code);
      }
      r.confirm(event.seq);
    });
    node.start();
    node.producer('p').emit('t', 'err');
    expect(node.engine.draining).toBe(false);
    node.drain();
    expect(seen).toEqual([true, 'NODE_STATE']);
    expect(node.engine.draining).toBe(false);
  });
});
