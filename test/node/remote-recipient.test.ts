/**
 * What a daemon needs of the node for remote recipients and producers (src/daemon): a recipient
 * whose connection is gone is detached (its events stay owed, nothing is retried or
 * dead-lettered) and attached again by name; a remote producer's own emit counter travels with
 * the record across a reboot.
 */
import { describe, expect, test } from 'vitest';
import type { EventCopy } from '../../src/engine/event-view.js';
import { bootNode, freshDevice, rebootDurable, smallLimits } from '../engine/harness.js';

const retry = { timeoutMs: 10, timeoutMaxMs: 10, attemptsMax: 1 };

describe('detachRecipient', () => {
  test('a detached recipient’s events stay owed, are never dead-lettered, and come again in order on attach', () => {
    const { node, clock } = bootNode(freshDevice(), { retry });
    const first: number[] = [];
    const remote = node.registerRecipient('remote', {}, (event) => first.push(event.seq));
    node.start();
    const p = node.producer('p');
    const before = [1, 2].map(() => p.emit('disk.failed', 'err'));
    node.drain();
    expect(first).toEqual(before);
    node.detachRecipient(remote); // the connection dropped with both unconfirmed
    const during = [1, 2, 3].map(() => p.emit('disk.failed', 'err'));
    clock.advance(1_000);
    node.drainUntilIdle();
    expect(node.stats().deadLetters.held).toBe(0); // no retries while detached
    expect(node.stats().fifos[1]?.pending).toBe(5); // still owed: they hold the head
    const again: EventCopy[] = [];
    const back = node.registerRecipient('remote', {}, (event, r) => {
      again.push(event.toJSON());
      r.confirm(event.seq);
    });
    expect(back).toBe(remote); // the same id and counters
    node.drainUntilIdle();
    expect(again.map((e) => e.seq)).toEqual([...before, ...during]);
    expect(node.idle()).toBe(true);
  });

  test('events for a detached recipient count toward QueueFull, visibly', () => {
    const { node } = bootNode(freshDevice());
    const remote = node.registerRecipient('remote', {}, () => {});
    node.start();
    node.detachRecipient(remote);
    const p = node.producer('p');
    const limit = smallLimits.runtimeSlots ?? 16;
    let accepted = 0;
    expect(() => {
      for (let k = 0; k <= limit; k++, accepted++) p.emit('disk.failed', 'err');
    }).toThrow(expect.objectContaining({ code: 'QUEUE_FULL' }));
    expect(accepted).toBe(limit);
    node.drainUntilIdle();
    expect(node.stats().fifos[1]?.pending).toBe(limit);
  });

  test('registering the name of an attached recipient is refused; detaching a stranger too', () => {
    const { node } = bootNode(freshDevice());
    node.registerRecipient('remote', {}, () => {});
    expect(() => node.registerRecipient('remote', {}, () => {})).toThrow(/already registered/);
    const other = bootNode(freshDevice()).node.registerRecipient('x', {}, () => {});
    expect(() => node.detachRecipient(other)).toThrow(/not registered with this node/);
  });
});

describe('a remote producer’s counter', () => {
  test('is stored with the record and read back after a reboot; it is not an original seq', async () => {
    const { node, device } = bootNode(freshDevice());
    node.registerRecipient('r', {}, () => {});
    node.start();
    const pending = node.producer('remote-p').emitAsync('disk.failed', 'err', null, 41);
    node.commit();
    const seq = await pending;
    node.close();
    const again = bootNode(rebootDurable(device)).node;
    const seen: { seq: number; counter: number; originalSeq: number }[] = [];
    again.registerRecipient('r', {}, (event, r) => {
      seen.push({ seq: event.seq, counter: event.producerCounter, originalSeq: event.originalSeq });
      r.confirm(event.seq);
    });
    again.start();
    again.drainUntilIdle();
    expect(seen.filter((e) => e.seq === seq)).toEqual([{ seq, counter: 41, originalSeq: 0 }]);
  });

  test('a counter out of range is refused before anything is written', () => {
    const { node } = bootNode(freshDevice());
    node.start();
    expect(() => node.producer('p').emitAsync('a.b', 'err', null, -1)).toThrow(/counter must be/);
    expect(node.stats().counters.emitted).toBe(0);
  });
});
