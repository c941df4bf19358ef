/**
 * The index of events a multiplexer holds for their upstream (src/mux/origin-index.ts): rebuilt
 * at boot from the pending records whose custodian bit is not set, a damaged (discarded) record
 * and a record the custodian was never meant for left out; and a holding replaced under its key is not removed by a late delete of the old one.
 */
import { describe, expect, test } from 'vitest';
import { Multiplexer } from '../../src/mux/multiplexer.js';
import { OriginIndex } from '../../src/mux/origin-index.js';
import type { RelayedEvent } from '../../src/mux/upstream-link.js';
import { bootNode, rebootDurable } from '../engine/harness.js';

const upstreamNode = '00000000000000bb';

function relayed(seq: number): RelayedEvent {
  return {
    seq,
    severity: 3,
    source: 'raid',
    type: 'disk.failed',
    details: new Uint8Array(0),
    origin: [],
  };
}

describe('the origin index', () => {
  test('rebuilt at boot from the records held for their upstream; a damaged one is left out', async () => {
    const { node, device } = bootNode();
    const mux = new Multiplexer(node);
    node.start();
    const link = mux.link('u', 'custody');
    // an upstream that never answers CONFIRMED: everything stays held
    link.connected(upstreamNode, { confirmDurable: () => new Promise<void>(() => {}) });
    for (const seq of [1, 2, 3]) link.receive(relayed(seq));
    node.commit();
    await new Promise((resolve) => setImmediate(resolve));
    node.drain();
    expect(mux.held).toBe(3);
    const queue = node.queue;
    const i = (queue.head + 1) % queue.capacity; // the record of upstream seq 2
    const fifo = node.fifos[queue.fifoIndex[i] as number]!;
    const offset = fifo.slotsOffset + fifo.slotBase(queue.position[i] as number);
    mux.close();
    node.close();

    const damaged = rebootDurable(device);
    damaged.flipBits(offset + 24, 4, 3, 11); // inside the record: its checks fail
    damaged.persist(offset + 24, 4);
    const again = bootNode(damaged).node;
    const recovered = new Multiplexer(again);
    expect(recovered.held).toBe(2);
    expect(recovered.index.find(upstreamNode, 1)?.state).toBe('held');
    expect(recovered.index.find(upstreamNode, 2)).toBeUndefined();
    expect(recovered.index.find(upstreamNode, 3)?.state).toBe('held');
    again.close();
  });

  test('records relayed before the node had a custodian are not held for any upstream', async () => {
    // recorded with a trail while no multiplexer ran here: the custodian was never intended
    const { node, device } = bootNode();
    node.registerRecipient('audit', {}, () => {}); // keeps them pending
    node.start();
    const recorded = node
      .producer('raid')
      .emitRelayed('disk.failed', 'err', null, [{ node: upstreamNode, seq: 4 }]);
    node.commit();
    await recorded;
    node.close();

    const again = bootNode(rebootDurable(device)).node;
    again.registerRecipient('audit', {}, () => {});
    const mux = new Multiplexer(again);
    expect(again.replay.plan?.items).toHaveLength(1); // pending, with its trail
    expect(mux.held).toBe(0);
    expect(mux.index.find(upstreamNode, 4)).toBeUndefined();
    again.close();
  });

  test('a holding replaced under its key survives the delete of the one it replaced', () => {
    const index = new OriginIndex();
    const hop = { node: upstreamNode, seq: 9 };
    const old = index.add(hop, 41, 'recording');
    const replacement = index.add(hop, 42, 'held');
    index.delete(old);
    expect(index.find(upstreamNode, 9)).toBe(replacement);
    index.delete(replacement);
    expect(index.size).toBe(0);
  });
});
