import { execFileSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { defaultExploreOptions, type ExploreOptions } from '../../sim/explore/explorer.js';
import {
  closeExploreWorkers,
  exploreWorkload,
  workerScript,
  type ExploreSummary,
} from '../../sim/explore/parallel.js';

function explore(
  workload: string,
  options: Partial<ExploreOptions>,
  params = {},
): Promise<ExploreSummary> {
  return exploreWorkload({
    workload,
    params,
    options: { ...defaultExploreOptions, ...options },
    workers: 1,
  });
}

describe('the events workload (a whole node, SPEC 4 checked)', () => {
  test('every cut point under px86: no invariant broken, at least 10x fewer states than naive', async () => {
    const summary = await explore('events', { model: 'px86', cuts: 'all' });
    expect(summary.counts.cuts).toBe(summary.counts.instructions + 1);
    expect(summary.counts.instructions).toBeGreaterThan(300);
    expect(summary.violations).toEqual([]);
    expect(summary.counts.violationStates).toBe(0);
    expect(summary.counts.naiveStates).toBeGreaterThanOrEqual(10 * summary.counts.crashStates);
  });

  test.each(['relaxed', 'eadr'] as const)(
    '%s with sampled cuts and images: no invariant broken',
    async (model) => {
      const summary = await explore('events', { model, cuts: 120, imagesPerCut: 24, seed: 5 });
      expect(summary.counts.cuts).toBe(120);
      expect(summary.counts.violationStates).toBe(0);
    },
  );

  test('depth 2 (power cuts during recovery): no invariant broken', async () => {
    const summary = await explore('events', {
      depth: 2,
      cuts: 16,
      nestedCuts: 6,
      imagesPerCut: 8,
      seed: 3,
    });
    expect(summary.counts.violationStates).toBe(0);
    // nested states were explored: more than one per first-level image
    expect(summary.counts.crashStates).toBeGreaterThan(summary.counts.imagesVisited / 2);
    expect(summary.depth).toBe(2);
  });

  test('pruning loses no distinct outcome on a small event workload', async () => {
    const options = { model: 'px86' as const, imagesPerCut: 6, collectOutcomes: true };
    const pruned = await explore('events-small', options);
    const full = await explore('events-small', { ...options, prune: false });
    expect(full.counts.crashStates).toBe(full.counts.imagesVisited);
    expect(pruned.counts.imagesVisited).toBe(full.counts.imagesVisited);
    expect(pruned.counts.crashStates).toBeLessThan(full.counts.crashStates);
    expect([...pruned.outcomes].sort()).toEqual([...full.outcomes].sort());
  });
});

describe('exploring on two cores', () => {
  test('visits every cut once and finds what one core finds', async () => {
    const options = { ...defaultExploreOptions };
    const one = await exploreWorkload({ workload: 'mutant-early-head', options, workers: 1 });
    const two = await exploreWorkload({ workload: 'mutant-early-head', options, workers: 2 });
    // Without a compiled worker (dist/) the explorer stays in this thread.
    expect(two.workers).toBe(workerScript() === undefined ? 1 : 2);
    expect(two.counts.cuts).toBe(one.counts.cuts);
    expect(two.counts.imagesVisited).toBe(one.counts.imagesVisited);
    expect(two.counts.naiveStates).toBe(one.counts.naiveStates);
    expect(Object.keys(two.invariants).sort()).toEqual(Object.keys(one.invariants).sort());
  });

  test('a kept worker process explores the next workload afresh', async () => {
    const options = { ...defaultExploreOptions, cuts: 60 };
    const alone = await exploreWorkload({ workload: 'events-small', options, workers: 1 });
    await exploreWorkload({ workload: 'mutant-early-head', options, workers: 2 });
    const after = await exploreWorkload({ workload: 'events-small', options, workers: 2 });
    // Nothing of the mutant's exploration (its violations, its state index) carries over.
    expect(after.counts.violationStates).toBe(0);
    expect(after.counts.imagesVisited).toBe(alone.counts.imagesVisited);
    expect(after.counts.naiveStates).toBe(alone.counts.naiveStates);
    await closeExploreWorkers();
  });

  test('closing the kept workers waits for them, though they never hold a process open', () => {
    const script = workerScript();
    if (script === undefined) return; // no compiled worker: nothing is kept
    const parallel = new URL('./parallel.js', script).href;
    const program = `
      const { closeExploreWorkers, exploreWorkload } = await import(${JSON.stringify(parallel)});
      await exploreWorkload({ workload: 'events-small', workers: 2, options: { cuts: 40 } });
      await closeExploreWorkers();
      console.log('closed');`;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', program], {
      encoding: 'utf8',
    });
    expect(output.trim()).toBe('closed');
  });
});
