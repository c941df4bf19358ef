/**
 * Seeded runs of the HA pair [193] (sim/ha/ha-run.ts, sim/ha/simulate.ts) with broken pair
 * decisions that the pinned mutants do not cover: a pair that fences itself at every drain
 * never gets back up (a liveness finding once nothing else is found) and, delivering nothing,
 * fills its pools (QUEUE_FULL, never acknowledged); a lease check that fails with a NodeError is
 * a defect finding, any other error ends the run; updates sent under another node's id are
 * refused by the partner's mirror, a defect finding each. A replay command names no mutant
 * when the run had none.
 */
import { describe, expect, test } from 'vitest';
import type { HaMark } from '../../sim/ha/ha-check.js';
import { pairProtocol, type PairProtocol } from '../../sim/ha/pair-protocol.js';
import { replayCommand, simulateSeed, type SimulateOptions } from '../../sim/ha/simulate.js';
import { NodeError } from '../../src/events/errors.js';

const options: SimulateOptions = { first: 1, seeds: 1, events: 12, model: 'px86', imagesPerCut: 4 };
const alwaysFenced: PairProtocol = { ...pairProtocol, fenced: () => true };

describe('a seeded run of the HA pair', () => {
  test('nodes that fence themselves at every drain stay down: a liveness finding', async () => {
    // no emits, so no steps: each of the 60 quiescent rounds brings both nodes back and
    // fences both at the drain (the marks keep changing, so the rounds never go idle)
    const outcome = await simulateSeed(1, { ...options, events: 0, protocol: alwaysFenced });
    expect(outcome.findings).toEqual([
      { invariant: 'liveness', message: '2 node(s) still down once faults stopped' },
    ]);
    expect(outcome.faults).toEqual({ fenced: 2 * 60 });
    expect(outcome.deliveries).toBe(0);
  });

  test('a pair that delivers nothing fills its pools: emits refused with QUEUE_FULL, none acknowledged', async () => {
    // 200 emits, ~40 record slots a node, nothing ever delivered: records pile up until refused
    const outcome = await simulateSeed(2, { ...options, events: 200, protocol: alwaysFenced });
    const marks = JSON.parse(outcome.history) as HaMark[];
    const codes = marks.flatMap((mark) => (mark.kind === 'unacked' ? [mark.code] : []));
    expect(codes).toContain('QUEUE_FULL');
    expect(outcome.acked).toBe(0);
    expect(outcome.findings.map((finding) => finding.invariant)).toEqual(['liveness']);
  });

  test('a lease check failing with a NodeError is a defect; any other error ends the run', async () => {
    const failing = (error: Error): PairProtocol => ({
      ...pairProtocol,
      fenced: () => {
        throw error;
      },
    });
    const defect = await simulateSeed(1, {
      ...options,
      protocol: failing(new NodeError('NODE_STATE', 'the lease service is confused')),
    });
    expect(defect.findings).toContainEqual({
      invariant: 'defect',
      message: '-: NODE_STATE: the lease service is confused',
    });
    await expect(
      simulateSeed(1, { ...options, protocol: failing(new Error('bug')) }),
    ).rejects.toThrow('bug');
    const failed = new NodeError('NODE_FAILED', 'the device failed');
    await expect(simulateSeed(1, { ...options, protocol: failing(failed) })).rejects.toBe(failed);
  });

  test("updates sent under another node's id are refused by the partner's mirror: defects", async () => {
    const stranger = '00000000000000c3';
    // each node's first three updates are its own, later ones claim to come from a stranger
    const impostor: PairProtocol = {
      ...pairProtocol,
      port: (channel) => {
        let sent = 0;
        return {
          send: (update) => channel.port.send(sent++ < 3 ? update : { ...update, node: stranger }),
        };
      },
    };
    const outcome = await simulateSeed(1, { ...options, protocol: impostor });
    const defects = outcome.findings.filter((finding) => finding.invariant === 'defect');
    expect(defects.length).toBeGreaterThan(0);
    for (const finding of defects)
      expect(finding.message).toMatch(
        new RegExp(`^[AB]: mirror update refused: .*mirrors partner [0-9a-f]{16}, not ${stranger}`),
      );
  });

  test('the replay command of a run without a mutant', () => {
    expect(replayCommand(7, { ...options, model: 'relaxed', events: 30 })).toBe(
      'nvrelay simulate ha --seed 7 --events 30 --model relaxed',
    );
    expect(replayCommand(7, { ...options, mutant: 'mutant-ha-no-self-fence' })).toBe(
      'nvrelay simulate ha --seed 7 --events 12 --model px86 --mutant mutant-ha-no-self-fence',
    );
  });
});
