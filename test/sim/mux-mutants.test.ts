/**
 * The mux mutant that releases its hold when it confirms upstream (sim/mutants/mux-mutants.ts),
 * on one node with its upstream played by the test: it forgets the event as soon as the
 * confirmation is sent, where the correct mux holds it until CONFIRMED (docs/PROTOCOL.md, step
 * 253), which is what the cluster lab catches (recorded-once). A confirmation it cannot send
 * (the link is down) releases nothing.
 */
import { describe, expect, test } from 'vitest';
import { Multiplexer } from '../../src/mux/multiplexer.js';
import type { RelayedEvent, UpstreamConfirmer } from '../../src/mux/upstream-link.js';
import { muxMutants } from '../../sim/mutants/mux-mutants.js';
import { bootNode } from '../engine/harness.js';

const upstreamNode = '00000000000000bb';

/** Confirmations wait for the test: their seqs are kept, none is answered. */
class SilentConfirmer implements UpstreamConfirmer {
  readonly seqs: number[] = [];
  confirmDurable(seq: number): Promise<void> {
    this.seqs.push(seq);
    return new Promise(() => {});
  }
}

const relayed = (seq: number): RelayedEvent => ({
  seq,
  severity: 3,
  source: 'raid',
  type: 'disk.failed',
  details: new Uint8Array(0),
  origin: [],
});

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const releaseEarly = muxMutants.find((m) => m.name === 'mutant-mux-release-before-confirmed');

/** A node with `Mux`, one event of the upstream recorded and delivered to its custodian. */
async function recorded(Mux: typeof Multiplexer, linkUp: boolean) {
  const { node } = bootNode();
  const mux = new Mux(node, {
    onError: (error) => {
      throw error;
    },
  });
  node.start();
  const link = mux.link('u', 'custody');
  const confirmer = new SilentConfirmer();
  link.connected(upstreamNode, confirmer);
  link.receive(relayed(7));
  if (!linkUp) link.disconnected();
  node.commit();
  await settle();
  node.drain();
  return { node, mux, link, confirmer };
}

describe('mutant-mux-release-before-confirmed', () => {
  test('forgets the event when it confirms upstream; the correct mux holds it', async () => {
    expect(releaseEarly?.expects).toEqual(['recorded-once']);
    const correct = await recorded(Multiplexer, true);
    expect(correct.confirmer.seqs).toEqual([7]);
    expect(correct.mux.held).toBe(1);
    correct.node.close();

    const mutant = await recorded(releaseEarly?.Multiplexer ?? Multiplexer, true);
    expect(mutant.confirmer.seqs).toEqual([7]);
    expect(mutant.mux.held).toBe(0); // the upstream may still send it again
    expect(mutant.mux.counters.released).toBe(1);
    mutant.node.close();
  });

  test('a confirmation on a link that is down is not sent and releases nothing', async () => {
    const { node, mux, link, confirmer } = await recorded(
      releaseEarly?.Multiplexer ?? Multiplexer,
      false,
    );
    const holding = mux.index.find(upstreamNode, 7);
    expect(holding?.state).toBe('held');
    if (holding !== undefined) link.confirmUpstream(holding);
    expect(confirmer.seqs).toEqual([]);
    expect(holding?.state).toBe('held');
    expect(mux.held).toBe(1);
    expect(mux.counters.released).toBe(0);
    node.close();
  });
});
