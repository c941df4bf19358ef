/**
 * Recipient.refuse: a recipient (a sink whose next system answered a permanent error, e.g. HTTP
 * 400) refuses an event for good. It becomes a dead letter now, reason `refused` with the code,
 * durable across a reboot, and is not delivered again; a refusal of an event not in flight is
 * refused; with the dead-letter section full the event stays in flight and is retried.
 */
import { describe, expect, test } from 'vitest';
import { bootNode, freshDevice, rebootDurable, smallLimits } from '../engine/harness.js';

describe('a refused event', () => {
  test('is a dead letter at once, with its code, and durable', () => {
    const { node, device } = bootNode(freshDevice());
    const seen: number[] = [];
    const sink = node.registerRecipient('sink', {}, (event, recipient) => {
      seen.push(event.seq);
      if (event.type === 'bad.request') expect(recipient.refuse(event.seq, 400)).toBe(true);
      else recipient.confirm(event.seq);
    });
    node.start();
    const p = node.producer('p');
    const good = p.emit('disk.failed', 'err');
    const bad = p.emit('bad.request', 'info');
    node.drainUntilIdle();
    expect(seen).toEqual([good, bad]);
    expect(sink.deadLettered).toBe(1);
    expect(sink.refuse(bad, 400)).toBe(false); // no longer in flight
    expect(sink.confirm(bad)).toBe(false); // late: counted, ignored
    const [letter] = node.deadLetterList();
    expect(letter).toMatchObject({
      recipient: 'sink',
      seq: bad,
      reason: 'refused',
      detail: 400,
      attempts: 1,
    });
    node.close();
    const again = bootNode(rebootDurable(device)).node;
    const redelivered: number[] = [];
    again.registerRecipient('sink', {}, (event) => redelivered.push(event.seq));
    again.start();
    again.drainUntilIdle();
    expect(redelivered).toEqual([]); // neither the confirmed one nor the refused one
    expect(again.deadLetterList()).toMatchObject([{ seq: bad, reason: 'refused', detail: 400 }]);
  });

  test('not in flight: refused; unknown seq: refused', () => {
    const { node } = bootNode(freshDevice());
    const sink = node.registerRecipient('sink', {}, () => {});
    node.start();
    expect(sink.refuse(12345, 400)).toBe(false);
    expect(node.deadLetterList()).toEqual([]);
  });

  test('with the dead-letter section full, it stays in flight and is delivered again', () => {
    const { node, clock } = bootNode(freshDevice({ ...smallLimits, deadLetterSlots: 1 }), {
      retry: { timeoutMs: 10, backoffFactor: 1, timeoutMaxMs: 10, attemptsMax: 100 },
    });
    const attempts = new Map<number, number>();
    const refusals: boolean[] = [];
    node.registerRecipient('sink', {}, (event, recipient) => {
      attempts.set(event.seq, (attempts.get(event.seq) ?? 0) + 1);
      refusals.push(recipient.refuse(event.seq, 422));
    });
    node.start();
    const p = node.producer('p');
    const first = p.emit('bad.one', 'info');
    const second = p.emit('bad.two', 'info');
    node.drainUntilIdle();
    expect(refusals).toEqual([true, false]); // one slot
    clock.time += 20;
    node.drainUntilIdle();
    expect(attempts.get(first)).toBe(1);
    expect(attempts.get(second)).toBe(2); // still owed: delivered again
    expect(node.deadLetterList().map((l) => l.seq)).toEqual([first]);
  });
});
