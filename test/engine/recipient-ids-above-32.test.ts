/**
 * The engine keeps each pending event's intended and confirmed recipients in two 32-bit words
 * (ids 0..31 and 32..55): recipients in the upper word are delivered to, confirm, are
 * retried and dead-lettered exactly as the lower word's.
 */
import { describe, expect, test } from 'vitest';
import { bootNode, freshDevice, smallLimits } from './harness.js';

const limits = { ...smallLimits, recipientsMax: 56, deadLetterSlots: 8 };

describe('recipients with ids 32 to 55', () => {
  test('deliveries and confirmations in the upper word complete an event', () => {
    const { node } = bootNode(freshDevice(limits));
    const seen = new Map<string, number[]>();
    for (let i = 0; i < 40; i++) {
      const name = `r${i}`;
      node.registerRecipient(name, {}, (event, recipient) => {
        seen.set(name, [...(seen.get(name) ?? []), event.seq]);
        recipient.confirm(event.seq);
      });
    }
    node.start();
    const seq = node.producer('raid').emit('disk.failed', 'err');
    node.drain();
    expect(seen.get('r39')).toEqual([seq]);
    expect(seen.get('r0')).toEqual([seq]);
    expect(node.stats().counters.confirmed).toBe(40);
    expect(node.stats().fifos.every((fifo) => fifo.pending === 0)).toBe(true);
  });

  test('an upper-word recipient that never confirms holds the event; it alone is retried', () => {
    const { node, clock } = bootNode(freshDevice(limits), {
      retry: { timeoutMs: 5, attemptsMax: 2 },
    });
    const attempts = new Map<string, number>();
    for (let i = 0; i < 36; i++) {
      const name = `r${i}`;
      node.registerRecipient(name, {}, (event, recipient) => {
        attempts.set(name, (attempts.get(name) ?? 0) + 1);
        if (name !== 'r35') recipient.confirm(event.seq);
      });
    }
    node.start();
    const seq = node.producer('raid').emit('disk.failed', 'err');
    node.drain();
    expect(node.stats().fifos.some((fifo) => fifo.pending === 1)).toBe(true);
    clock.advance(10);
    node.drain();
    expect(attempts.get('r35')).toBe(2);
    expect(attempts.get('r34')).toBe(1);
    clock.advance(20);
    node.drain();
    expect(node.deadLetterList().map((letter) => [letter.recipient, letter.seq])).toEqual([
      ['r35', seq],
    ]);
    expect(node.stats().fifos.every((fifo) => fifo.pending === 0)).toBe(true);
  });
});
