/**
 * The engine keeps each pending event's intended and confirmed recipients in two 32-bit words
 * (ids 0..31 and 32..55): recipients in the upper word are delivered to, confirm, are
 * retried and dead-lettered exactly as the lower word's.
 */
import { describe, expect, test } from 'vitest';
import type { Recipient } from '../../src/engine/recipient.js';
import { bootNode, freshDevice, rebootDurable, smallLimits } from './harness.js';

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
    // delivered again to r35 alone: an event intended for the upper word only
    const before = new Map(attempts);
    expect(node.redeliverDeadLetters({ recipient: 'r35' })).toBe(1);
    node.drain();
    expect(attempts.get('r35')).toBe((before.get('r35') ?? 0) + 1);
    for (const [name, count] of before) if (name !== 'r35') expect(attempts.get(name)).toBe(count);
    expect(node.deadLetterList()).toEqual([]);
  });

  test('an upper-word recipient confirms an event owed before it is delivered (a reconnect), not one never meant for it', () => {
    const { node } = bootNode(freshDevice(limits));
    const recipients: Recipient[] = [];
    for (let i = 0; i < 34; i++)
      recipients.push(
        node.registerRecipient(`r${i}`, { prefixes: ['disk.'] }, (event, r) => {
          if (r.id !== 33) r.confirm(event.seq);
        }),
      );
    const high = recipients[33]!;
    expect(high.id).toBe(33);
    node.detachRecipient(high); // away: its events stay owed, not delivered
    node.start();
    const producer = node.producer('raid');
    const owed = producer.emit('disk.failed', 'err');
    const other = producer.emit('fan.slow', 'err'); // no subscriber takes it
    node.drain();
    expect(high.delivered).toBe(0);
    expect(high.confirm(other)).toBe(false);
    expect(high.confirm(owed)).toBe(true);
    expect(high.confirm(owed)).toBe(false); // once
    node.drain();
    expect(node.stats().fifos.every((fifo) => fifo.pending === 0)).toBe(true);
  });

  test("for an upper-word recipient's event in flight, othersHandled looks at every other recipient", () => {
    const { node } = bootNode(freshDevice(limits));
    const held: number[] = [];
    for (let i = 0; i < 34; i++)
      node.registerRecipient(`r${i}`, {}, (event, r) => {
        if (r.id === 33 || (r.id === 0 && held.length === 0)) held.push(event.seq);
        else r.confirm(event.seq);
      });
    node.start();
    const seq = node.producer('raid').emit('disk.failed', 'err');
    node.drain();
    const high = node.engine.recipients[33]!;
    const low = node.engine.recipients[0]!;
    expect(node.engine.othersHandled(high, seq)).toEqual({ handled: false, others: true }); // r0
    low.confirm(seq);
    expect(node.engine.othersHandled(high, seq)).toEqual({ handled: true, others: true });
    expect(node.engine.othersHandled(high, seq + 1)).toBeNull(); // not in its window
  });

  test('retiring an upper-word recipient dead-letters what it owes, and settles those events', () => {
    const { node, device } = bootNode(freshDevice(limits));
    for (let i = 0; i < 34; i++)
      node.registerRecipient(`r${i}`, {}, (event, r) => {
        if (r.id !== 33) r.confirm(event.seq);
      });
    node.start();
    const producer = node.producer('raid');
    const seqs = [producer.emit('disk.failed', 'err'), producer.emit('disk.failed', 'err')];
    node.drainUntilIdle();
    node.close();

    const again = bootNode(rebootDurable(device)).node;
    for (let i = 0; i < 33; i++)
      again.registerRecipient(`r${i}`, {}, (event, r) => r.confirm(event.seq));
    again.start();
    again.drainUntilIdle();
    expect(again.retireRecipient('r33')).toEqual({ deadLettered: 2 });
    expect(again.deadLetterList().map((letter) => [letter.seq, letter.reason])).toEqual(
      seqs.map((seq) => [seq, 'recipient-retired']),
    );
    again.drainUntilIdle();
    expect(again.stats().fifos.every((fifo) => fifo.pending === 0)).toBe(true);
    again.close();
  });
});
