/**
 * The cluster explorer (sim/cluster/explore-cluster.ts) on a one-event run of the mux workload
 * (about a hundred instructions over the three devices): every cut, a sample larger than the
 * cuts there are, depth 2's second cut, and cut lists read back from a plan.
 */
import { describe, expect, test } from 'vitest';
import {
  clusterPlan,
  cutsOfPlan,
  exploreCluster,
  runClusterPlan,
} from '../../../sim/cluster/explore-cluster.js';
import { defaultExploreOptions } from '../../../sim/explore/explorer.js';
import { decodePlan, encodePlan } from '../../../sim/plan.js';

const workload = { name: 'mux', run: { seed: 1, events: 1 } };
const options = { ...defaultExploreOptions, imagesPerCut: 1, violationsMax: 1 };

async function cleanInstructions(): Promise<number> {
  const clean = await runClusterPlan(workload, 'px86', 1, []);
  return clean.instructions.reduce((sum, counts) => sum + (counts[0] ?? 0), 0);
}

describe('exploreCluster', () => {
  test('--cuts all cuts every instruction of every device once, and finds nothing', async () => {
    const instructions = await cleanInstructions();
    const progress: number[] = [];
    const summary = await exploreCluster(workload, {}, { ...options, cuts: 'all' }, (p) =>
      progress.push(p.cutsDone),
    );
    expect(summary.counts.instructions).toBe(instructions);
    expect(summary.counts.cuts).toBe(instructions);
    expect(summary.cutPoints).toHaveLength(instructions);
    expect(progress.at(-1)).toBe(instructions);
    expect(summary.counts.violationStates).toBe(0);
    expect(summary.params['devices']).toBe('origin,mux-1,mux-2');
  });

  test('a sample of more cuts than there are cuts every instruction, in order', async () => {
    const instructions = await cleanInstructions();
    const summary = await exploreCluster(workload, {}, { ...options, cuts: instructions + 50 });
    expect(summary.counts.cuts).toBe(instructions);
    const all = await exploreCluster(workload, {}, { ...options, cuts: 'all' });
    expect(summary.cutPoints).toEqual(all.cutPoints);
  });

  test('depth 2 arms a second, seeded cut per run; those that never fire are counted', async () => {
    const summary = await exploreCluster(workload, {}, { ...options, cuts: 24, depth: 2 });
    expect(summary.depth).toBe(2);
    expect(summary.counts.cuts).toBe(24);
    // every run fired its first cut; the second fired in the others
    expect(summary.counts.recoveries).toBe(
      2 * summary.counts.crashStates - summary.counts.nestedCutsSkipped,
    );
    expect(summary.counts.nestedCutsSkipped).toBeGreaterThan(0);
    expect(summary.counts.nestedCutsSkipped).toBeLessThan(summary.counts.crashStates);
    expect(summary.counts.violationStates).toBe(0);
  });
});

describe('cutsOfPlan', () => {
  test('reads each cut of a plan back, the parts left out as 0', () => {
    const plan = clusterPlan('mux', {}, options, [
      { device: 2, incarnation: 1, instruction: 40, image: 1 },
    ]);
    expect(cutsOfPlan(decodePlan(encodePlan(plan)))).toEqual([
      { device: 2, incarnation: 1, instruction: 40, image: 1 },
    ]);
    plan.params['cuts'] = '1,2.1';
    expect(cutsOfPlan(plan)).toEqual([
      { device: 1, incarnation: 0, instruction: 0, image: 0 },
      { device: 2, incarnation: 1, instruction: 0, image: 0 },
    ]);
  });

  test('a plan of the clean run has no cuts', () => {
    const plan = clusterPlan('mux', {}, options, []);
    expect(plan.steps).toHaveLength(1);
    expect(cutsOfPlan(plan)).toEqual([]);
    delete plan.params['cuts'];
    expect(cutsOfPlan(plan)).toEqual([]);
  });
});
