/**
 * Crash tests in traced mode (SPEC 4): random small workloads, a power cut at every instruction
 * under px86 with sampled post-crash images under px86, relaxed and eadr, reboot, replay, run
 * until quiescent, and every invariant checked; nested power cuts during recovery (SPEC 4.6).
 * Reproduce a failure with FC_SEED and the printed path; each violation names its crash state.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { exploreWorkload, type Exploration } from './explore.js';
import { crashLimits, workloadArbitrary, type Workload } from './workload.js';

const seed = Number(process.env['FC_SEED'] ?? 20_251_126);

function summary(exploration: Exploration): string {
  return exploration.violations
    .slice(0, 5)
    .map((v) => `[${v.invariant}] ${v.message} (${v.state})`)
    .join('\n');
}

describe('crash exploration', () => {
  test('every cut of random workloads, several images each, satisfies SPEC 4 after replay', () => {
    let states = 0;
    fc.assert(
      fc.property(workloadArbitrary, (workload) => {
        const exploration = exploreWorkload(workload, { seed, nestedPerCut: 0 });
        states += exploration.states;
        expect(exploration.violations, summary(exploration)).toEqual([]);
      }),
      { seed, numRuns: 30 },
    );
    expect(states).toBeGreaterThan(500);
  });

  test('nested power cuts during recovery and replay still end in a state satisfying SPEC 4', () => {
    fc.assert(
      fc.property(workloadArbitrary, (workload) => {
        const exploration = exploreWorkload(workload, {
          seed: seed + 1,
          nestedPerCut: 2,
          cutStride: 3,
        });
        expect(exploration.violations, summary(exploration)).toEqual([]);
      }),
      { seed: seed + 1, numRuns: 12 },
    );
  });

  test('with a 16-slot ring (wrap-around, slots reused once the durable head passes) SPEC 4 still holds', () => {
    fc.assert(
      fc.property(workloadArbitrary, (workload) => {
        const limits = { ...crashLimits, runtimeSlots: 16 };
        const exploration = exploreWorkload(workload, {
          seed: seed + 2,
          nestedPerCut: 1,
          cutStride: 2,
          limits,
        });
        expect(exploration.violations, summary(exploration)).toEqual([]);
      }),
      { seed: seed + 2, numRuns: 10 },
    );
  });

  test('a pinned workload: two recipients, one confirming out of order, ring wrap-around', () => {
    const workload: Workload = {
      recipients: [
        { name: 'r0', prefixes: [''], severityMax: 7, confirms: 'sync' },
        { name: 'r1', prefixes: ['disk.'], severityMax: 4, confirms: 'held' },
      ],
      bootOps: [
        {
          kind: 'emit',
          producer: 0,
          type: 'disk.failed',
          severity: 3,
          detailsBytes: 4,
          grouped: false,
        },
      ],
      ops: [
        {
          kind: 'emit',
          producer: 1,
          type: 'disk.failed',
          severity: 2,
          detailsBytes: 8,
          grouped: false,
        },
        {
          kind: 'emit',
          producer: 0,
          type: 'disk.scrub',
          severity: 4,
          detailsBytes: 3,
          grouped: true,
        },
        {
          kind: 'emit',
          producer: 0,
          type: 'net.down',
          severity: 1,
          detailsBytes: 16,
          grouped: true,
        },
        { kind: 'drain' },
        { kind: 'confirm', recipient: 1, pick: 1 },
        { kind: 'confirm', recipient: 1, pick: 0 },
        { kind: 'drain' },
        {
          kind: 'emit',
          producer: 1,
          type: 'disk.failed',
          severity: 0,
          detailsBytes: 5,
          grouped: false,
        },
        {
          kind: 'emit',
          producer: 1,
          type: 'app.note',
          severity: 6,
          detailsBytes: 5,
          grouped: false,
        },
        { kind: 'drain' },
        { kind: 'confirm', recipient: 1, pick: 0 },
        { kind: 'drain' },
        {
          kind: 'emit',
          producer: 0,
          type: 'disk.scrub',
          severity: 4,
          detailsBytes: 6,
          grouped: false,
        },
        { kind: 'drain' },
      ],
    };
    const exploration = exploreWorkload(workload, { seed, nestedPerCut: 3 });
    expect(exploration.violations, summary(exploration)).toEqual([]);
    expect(exploration.cuts).toBe(exploration.instructions);
    expect(exploration.duplicates).toBeGreaterThan(0); // unconfirmed-at-cut events are redelivered
  });
});
