/**
 * The in-memory link of a cluster run (sim/cluster/sim-link.ts): a delivery while the link is
 * down is lost with it, confirmations go up only while connected and again on reconnect, and an
 * answer nobody waits for (after the mux died) resolves nothing.
 */
import { describe, expect, test } from 'vitest';
import { SimLink } from '../../../sim/cluster/sim-link.js';
import type { RelayedEvent } from '../../../src/mux/upstream-link.js';

const event = { seq: 4 } as unknown as RelayedEvent;

describe('SimLink', () => {
  test('a delivery while disconnected is not queued; once connected it is', () => {
    const link = new SimLink(0, 1);
    link.deliver(event);
    expect(link.down).toEqual([]);
    link.connect();
    link.deliver(event);
    expect(link.down).toEqual([{ kind: 'deliver', event }]);
    link.disconnect();
    expect(link.down).toEqual([]);
    expect(link.lost).toBe(1);
  });

  test('a confirmation waits for its answer, goes again on reconnect, and resolves once', async () => {
    const link = new SimLink(0, 1);
    const resolved: string[] = [];
    const first = link.confirmer.confirmDurable(9).then(() => resolved.push('first'));
    expect(link.up).toEqual([]); // not connected: nothing sent yet
    link.connect();
    expect(link.up).toEqual([9]);
    const second = link.confirmer.confirmDurable(9).then(() => resolved.push('second'));
    expect(link.up).toEqual([9]); // already pending: not sent twice
    link.answered(9);
    await Promise.all([first, second]);
    expect(resolved).toEqual(['first', 'second']);
  });

  test('an answer after the mux died resolves nothing and throws nothing', async () => {
    const link = new SimLink(0, 1);
    link.connect();
    let settled = false;
    void link.confirmer.confirmDurable(3).then(() => (settled = true));
    link.muxDied();
    link.answered(3);
    await Promise.resolve();
    expect(settled).toBe(false);
    link.connect();
    expect(link.up).toEqual([3]); // sent before the death; nothing pending to send again
  });
});
