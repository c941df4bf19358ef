/**
 * The multiplexing recipient on its own (src/mux/multiplexer.ts, upstream-link.ts), on a node
 * with manual scheduling, its upstream played by the test (deliveries handed to the link, a
 * confirmer whose CONFIRMED the test resolves or rejects): an event recorded here first, two
 * upstream names that are one node, a trail already as deep as a trail goes, a delivery before
 * the link knows its node, a confirmation upstream lost with the transport and made again on
 * reconnect, and a CONFIRMED that arrives after the node closed.
 */
import { describe, expect, test } from 'vitest';
import type { OriginHop } from '../../src/events/origin.js';
import { Multiplexer } from '../../src/mux/multiplexer.js';
import type { RelayedEvent, UpstreamConfirmer } from '../../src/mux/upstream-link.js';
import { bootNode } from '../engine/harness.js';

const upstreamNode = '00000000000000bb';

/** A confirmer whose confirmations wait for the test: each call is kept with its settlers. */
class ScriptedConfirmer implements UpstreamConfirmer {
  readonly calls: { seq: number; resolve: () => void; reject: (error: Error) => void }[] = [];
  confirmDurable(seq: number): Promise<void> {
    return new Promise((resolve, reject) => this.calls.push({ seq, resolve, reject }));
  }
}

function relayed(seq: number, origin: OriginHop[] = []): RelayedEvent {
  return {
    seq,
    severity: 3,
    source: 'raid',
    type: 'disk.failed',
    details: new Uint8Array(0),
    origin,
  };
}

/** A running node with a multiplexer; `refused` collects what its links refused. */
function setup() {
  const { node } = bootNode();
  const refused: { link: string; seq: number; error: unknown }[] = [];
  const mux = new Multiplexer(node, {
    onRefused: (link, seq, error) => refused.push({ link: link.name, seq, error }),
    onError: (error) => {
      throw error;
    },
  });
  node.start();
  return { node, mux, refused };
}

/** Lets promise callbacks (the group commit's acks, CONFIRMED) run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('the multiplexer', () => {
  test('an event recorded here first is confirmed by the custodian at once; without callbacks a refusal is only counted', () => {
    const { node } = bootNode();
    const mux = new Multiplexer(node); // the default callbacks
    node.start();
    node.producer('local').emit('disk.failed', 'err', null);
    node.drain();
    expect(mux.custodian.confirmed).toBe(1);
    expect(mux.held).toBe(0);
    // with no onRefused given, a refusal is only counted
    const link = mux.link('u', 'custody');
    link.connected(upstreamNode, new ScriptedConfirmer());
    const deep = Array.from({ length: 8 }, (_, k) => ({ node: `000000000000000${k}`, seq: k + 1 }));
    link.receive(relayed(1, deep));
    expect(mux.counters.refused).toBe(1);
    node.close();
  });

  test('two upstream names that are one node: the second connect throws naming both', () => {
    const { node, mux } = setup();
    mux.link('a', 'custody').connected(upstreamNode, new ScriptedConfirmer());
    expect(() => mux.link('b', 'custody').connected(upstreamNode, new ScriptedConfirmer())).toThrow(
      `upstreams 'a' and 'b' are one node, ${upstreamNode}`,
    );
    expect(mux.link('a', 'end-to-end').mode).toBe('custody'); // one link per name
    node.close();
  });

  test('a delivery before the link knows its node is a defect; a trail already 8 hops deep is refused', () => {
    const { node, mux, refused } = setup();
    const link = mux.link('u', 'custody');
    expect(() => link.receive(relayed(1))).toThrow("upstream 'u': a delivery before connected()");
    link.connected(upstreamNode, new ScriptedConfirmer());
    const deep = Array.from({ length: 8 }, (_, k) => ({ node: `000000000000000${k}`, seq: k + 1 }));
    link.receive(relayed(5, deep));
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ link: 'u', seq: 5 });
    expect(String(refused[0]!.error)).toMatch(/an origin trail deeper than 8 hops/);
    expect(mux.counters).toMatchObject({ received: 1, refused: 1, recorded: 0 });
    expect(node.stats().counters.emitted).toBe(0);
    node.close();
  });

  test('a confirmation upstream lost with the transport is made again once the link is up again', async () => {
    const { node, mux } = setup();
    const link = mux.link('u', 'custody');
    const first = new ScriptedConfirmer();
    link.connected(upstreamNode, first);
    link.receive(relayed(7));
    node.commit();
    await settle();
    node.drain(); // the custodian is delivered the record: confirm upstream
    expect(first.calls.map((call) => call.seq)).toEqual([7]);
    link.disconnected();
    first.calls[0]!.reject(new Error('the transport closed'));
    await settle();
    expect(mux.held).toBe(1);
    expect(mux.custodian.confirmed).toBe(0);

    const second = new ScriptedConfirmer();
    link.connected(upstreamNode, second); // adopts what it holds: confirms again
    expect(second.calls.map((call) => call.seq)).toEqual([7]);
    second.calls[0]!.resolve();
    await settle();
    expect(mux.held).toBe(0);
    expect(mux.counters.released).toBe(1);
    expect(mux.custodian.confirmed).toBe(1);
    node.close();
  });

  test('delivered to the custodian before its emitter heard it was durable: confirmed upstream once', async () => {
    const { node, mux } = setup();
    const link = mux.link('u', 'custody');
    const confirmer = new ScriptedConfirmer();
    link.connected(upstreamNode, confirmer);
    link.receive(relayed(7));
    node.commit();
    node.drain(); // the pass runs before the group's acks reach the link
    expect(confirmer.calls.map((call) => call.seq)).toEqual([7]);
    await settle(); // now the link hears the record is durable
    expect(mux.counters.recorded).toBe(1);
    expect(confirmer.calls).toHaveLength(1); // not confirmed a second time
    // another upstream node connecting leaves this one's held event alone
    const other = new ScriptedConfirmer();
    mux.link('v', 'custody').connected('00000000000000cc', other);
    expect(other.calls).toEqual([]);
    confirmer.calls[0]!.resolve();
    await settle();
    expect(mux.counters.released).toBe(1);
    expect(mux.held).toBe(0);
    node.close();
  });

  test('a CONFIRMED that arrives after the node closed forgets the event, confirming nothing', async () => {
    const { node, mux } = setup();
    const link = mux.link('u', 'custody');
    const confirmer = new ScriptedConfirmer();
    link.connected(upstreamNode, confirmer);
    link.receive(relayed(3));
    node.commit();
    await settle();
    node.drain();
    expect(confirmer.calls).toHaveLength(1);
    mux.close();
    node.close();
    confirmer.calls[0]!.resolve();
    await settle();
    expect(mux.held).toBe(0);
    expect(mux.counters.released).toBe(0);
    expect(mux.custodian.confirmed).toBe(0);
  });
});
