/**
 * The crash lab for several devices (sim/cluster): an origin node, a custody mux and an
 * end-to-end mux on three traced devices. A sample of every device's cuts finds no violation of
 * SPEC 4 end to end, and each broken mux (sim/mutants/mux-mutants.ts) is caught. The recorded
 * run of every cut is in docs/TESTING.md.
 */
import { describe, expect, test } from 'vitest';
import { defaultExploreOptions } from '../../sim/explore/explorer.js';
import { exploreWorkload } from '../../sim/explore/parallel.js';
import { muxMutants } from '../../sim/mutants/mux-mutants.js';
import { decodePlan } from '../../sim/plan.js';
import { cutsOfPlan, runClusterPlan } from '../../sim/cluster/explore-cluster.js';
import { clusterWorkload } from '../../sim/workloads/registry.js';
import { ClusterRun } from '../../sim/cluster/cluster-run.js';

const options = { ...defaultExploreOptions, cuts: 90, imagesPerCut: 2, violationsMax: 1 };

describe('the mux workload', () => {
  test('a clean run: every acknowledged event reaches its leaves once; every device runs', async () => {
    const result = await new ClusterRun({
      seed: 1,
      events: 12,
      model: 'px86',
      imagesPerCut: 2,
    }).run();
    const delivered = result.marks.filter((m) => m.kind === 'delivered');
    const acked = result.marks.filter((m) => m.kind === 'acked');
    expect(acked).toHaveLength(12);
    expect(delivered.length).toBeGreaterThanOrEqual(12);
    expect(result.instructions.every((counts) => (counts[0] ?? 0) > 50)).toBe(true);
    expect(result.leftHeld).toBe(0);
  });

  test('sampled cuts of all three devices: no violation', async () => {
    const summary = await exploreWorkload({ workload: 'mux', params: {}, options });
    expect(summary.counts.cuts).toBe(90);
    expect(summary.counts.crashStates).toBeGreaterThanOrEqual(90);
    expect(summary.invariants).toEqual({});
    expect(summary.counts.violationStates).toBe(0);
  });

  test.each(muxMutants.map((m) => [m.name, m] as const))('%s is caught', async (name, mutant) => {
    const summary = await exploreWorkload({ workload: name, params: {}, options });
    const caught = mutant.expects.some((invariant) => (summary.invariants[invariant] ?? 0) > 0);
    expect(caught, JSON.stringify(summary.invariants)).toBe(true);
    // the violation replays from its token
    const violation = summary.violations[0];
    expect(violation).toBeDefined();
    const plan = decodePlan(violation?.token ?? '');
    const workload = clusterWorkload(plan.workload, plan.params)?.workload;
    expect(workload).toBeDefined();
    if (workload === undefined) return;
    const replay = await runClusterPlan(workload, plan.model, 2, cutsOfPlan(plan));
    expect(replay.findings.map((f) => f.invariant)).toContain(violation?.invariant);
  });
});
