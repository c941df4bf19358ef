/**
 * Boot recovery's findings [231-232] as events: a damaged dead letter is reported with the
 * section and the count; a damaged recipient entry, while events are pending (one of them may
 * name its id), is quarantined and reported by id; with nothing pending it is neither: its id is
 * handed out again.
 */
import { describe, expect, test } from 'vitest';
import type { TracedNvram } from '../../src/nvram/index.js';
import { bootNode, rebootDurable } from '../engine/harness.js';

/** Overwrites four persisted bytes (a media fault inside one entry). */
function damage(device: TracedNvram, section: string, at: number): void {
  const offset = device.section(section).offset + at;
  device.storeBytes(offset, new Uint8Array([0x5a, 0xa5, 0x5a, 0xa5]));
  device.persist(offset, 4);
}

describe('boot recovery findings', () => {
  test('a damaged dead letter is nvrelay.deadletter.damaged with its section and count', () => {
    const { node, device, clock } = bootNode(undefined, {
      retry: { timeoutMs: 5, attemptsMax: 1 },
    });
    node.registerRecipient('r', {}, () => {});
    node.start();
    node.producer('p').emit('t', 'info');
    node.drain();
    clock.advance(10);
    node.drain(); // one attempt, no confirmation: a dead letter
    expect(node.stats().deadLetters.held).toBe(1);
    const image = rebootDurable(device);
    damage(image, 'dead-letter', 72); // the first entry's record
    const after = bootNode(image).node;
    expect(after.recovery).toEqual({
      replayed: 0,
      discarded: 0,
      events: [
        {
          type: 'nvrelay.deadletter.damaged',
          severity: 'err',
          details: { section: 'dead-letter', damaged: 1 },
        },
      ],
    });
    expect(after.stats().deadLetters).toEqual({ held: 0, damaged: 1, capacity: 4 });
  });

  test('a damaged recipient entry with events pending is quarantined and reported', () => {
    const { node, device } = bootNode();
    node.registerRecipient('r', {}, () => {});
    node.start();
    node.producer('p').emit('t', 'info'); // pending: names id 0
    const image = rebootDurable(device);
    damage(image, 'recipients', 0);
    const after = bootNode(image).node;
    expect(after.recovery).toEqual({
      replayed: 1,
      discarded: 0,
      events: [
        {
          type: 'nvrelay.recipient.damaged',
          severity: 'crit',
          details: { section: 'recipients', ids: [0] },
        },
      ],
    });
    expect(after.recipientTable.states[0]).toBe('quarantined');
    expect(after.registerRecipient('newcomer', {}, () => {}).id).toBe(1);
  });

  test('a damaged recipient entry with nothing pending is not reported and its id is reused', () => {
    const { node, device } = bootNode();
    node.registerRecipient('r', {}, (event, recipient) => recipient.confirm(event.seq));
    node.start();
    node.producer('p').emit('t', 'info');
    node.drainUntilIdle(); // confirmed: nothing pending
    const image = rebootDurable(device);
    damage(image, 'recipients', 0);
    const after = bootNode(image).node;
    expect(after.recovery).toEqual({ replayed: 0, discarded: 0, events: [] });
    expect(after.recipientTable.states[0]).toBe('damaged');
    expect(after.registerRecipient('newcomer', {}, () => {}).id).toBe(0);
  });
});
