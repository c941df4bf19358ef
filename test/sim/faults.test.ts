import { describe, expect, test } from 'vitest';
import { applyFlips, bootLostDevice, chooseFlips, chooseWordFlips } from '../../sim/faults.js';
import { defaultExploreOptions, type ExploreOptions } from '../../sim/explore/explorer.js';
import { exploreWorkload } from '../../sim/explore/parallel.js';
import { decodePlan, encodePlan } from '../../sim/plan.js';
import { replayPlan } from '../../sim/replay.js';
import { workloadSubject } from '../../sim/workloads/registry.js';

const media: Partial<ExploreOptions> = { mediaFaults: { flips: 1, imagesPerCut: 2 } };

function explore(workload: string, options: Partial<ExploreOptions>) {
  return exploreWorkload({
    workload,
    options: { ...defaultExploreOptions, ...options },
    workers: 1,
  });
}

describe('the fault injector', () => {
  test('bit flips are seeded, distinct, inside their range, and undo themselves', () => {
    const flips = chooseFlips({ offset: 4096, length: 64 }, 5, 9);
    expect(flips).toEqual(chooseFlips({ offset: 4096, length: 64 }, 5, 9));
    expect(new Set(flips).size).toBe(5);
    for (const bit of flips) expect(bit >= 4096 * 8 && bit < (4096 + 64) * 8).toBe(true);
    const image = new Uint8Array(8192).fill(0x5a);
    applyFlips(image, flips);
    expect(image.filter((b) => b !== 0x5a).length).toBeGreaterThan(0);
    applyFlips(image, flips);
    expect(image.every((b) => b === 0x5a)).toBe(true);
  });

  test('word flips stay in the given words and out of the header page', () => {
    const words = Int32Array.from([3, 600, 601]);
    for (const bit of chooseWordFlips(words, 4, 1))
      expect([600, 601]).toContain(Math.floor(bit / 64));
    expect(chooseWordFlips(Int32Array.from([1, 2]), 2, 1)).toEqual([]);
  });

  test('a lost device is reported by a typed error at boot, never read as state', () => {
    expect(bootLostDevice(65536).code).toBe('NVRAM_BAD_MAGIC');
  });

  test('the correct event workload survives bit flips in what recovery reads', async () => {
    const summary = await explore('events', { ...media, cuts: 120, seed: 4 });
    expect(summary.counts.violationStates).toBe(0);
    expect(summary.counts.imagesVisited).toBeGreaterThan(summary.counts.cuts * 2);
  });

  test('a recovery that ignores checksums delivers a flipped record as garbage', async () => {
    const faulted = await explore('mutant-checksum-ignored', {
      mediaFaults: { flips: 1, imagesPerCut: 4 },
      violationsMax: 1000,
    });
    expect(faulted.invariants['no-garbage']).toBeGreaterThan(0);
    const violation = faulted.violations.find(
      (v) => v.invariant === 'no-garbage' && (v.plan.steps[0]?.flips?.length ?? 0) > 0,
    );
    expect(violation?.plan.steps[0]?.flips?.length).toBe(1);
    // the plan (with its flips) survives the token and replays the same finding
    const plan = decodePlan(violation?.token ?? '');
    expect(encodePlan(plan)).toBe(violation?.token);
    const { subject } = workloadSubject(plan.workload, plan.params);
    const replay = replayPlan(subject, plan, { sites: false });
    expect(replay.findings.map((f) => f.message)).toContain(violation?.message);
  });
});
