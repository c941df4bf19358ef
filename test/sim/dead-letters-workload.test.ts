import { describe, expect, test } from 'vitest';
import { defaultExploreOptions, type ExploreOptions } from '../../sim/explore/explorer.js';
import { exploreWorkload, type ExploreSummary } from '../../sim/explore/parallel.js';
import { recordWorkload } from '../../sim/explore/recording.js';
import type { EventMark } from '../../sim/workloads/events.js';
import { workloadSubject } from '../../sim/workloads/registry.js';

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

describe('the dead-letters workload (retries exhausted, re-delivered, SPEC 4 checked)', () => {
  test('before any cut it dead-letters, re-delivers with originalSeq, and the sink confirms', () => {
    const marks = recordWorkload(workloadSubject('dead-letters').subject).marks.map(
      (mark) => mark.value as EventMark,
    );
    const deadLettered = marks.filter((mark) => mark.kind === 'dead-lettered');
    const redeliveries = marks.filter(
      (mark) => mark.kind === 'delivered' && mark.originalSeq !== undefined,
    );
    expect(deadLettered.length).toBeGreaterThanOrEqual(4);
    expect(redeliveries.map((mark) => mark.kind === 'delivered' && mark.originalSeq)).toEqual(
      deadLettered.map((mark) => mark.kind === 'dead-lettered' && mark.seq),
    );
    const confirmed = new Set(
      marks.flatMap((mark) => (mark.kind === 'confirmed' ? [mark.seq] : [])),
    );
    for (const mark of redeliveries)
      if (mark.kind === 'delivered') expect(confirmed).toContain(mark.seq);
  });

  test('every cut point under px86: no invariant broken', async () => {
    const summary = await explore('dead-letters', { model: 'px86', cuts: 'all' });
    expect(summary.counts.cuts).toBe(summary.counts.instructions + 1);
    expect(summary.counts.instructions).toBeGreaterThan(150);
    expect(summary.violations).toEqual([]);
    expect(summary.counts.violationStates).toBe(0);
  });

  test.each(['relaxed', 'eadr'] as const)(
    '%s with sampled cuts and images: no invariant broken',
    async (model) => {
      const summary = await explore('dead-letters', { model, cuts: 60, imagesPerCut: 16, seed: 5 });
      expect(summary.counts.violationStates).toBe(0);
    },
  );

  test('depth 2 (power cuts during recovery, which dead-letters again): no invariant broken', async () => {
    const summary = await explore('dead-letters', {
      depth: 2,
      cuts: 12,
      nestedCuts: 8,
      imagesPerCut: 6,
      seed: 3,
    });
    expect(summary.counts.violationStates).toBe(0);
  });

  test('the confirmation bit made durable before the dead-letter copy loses the event', async () => {
    const summary = await explore('mutant-dead-letter-bit-first', { model: 'px86', cuts: 'all' });
    expect(summary.invariants['no-loss'] ?? 0).toBeGreaterThan(0);
    expect(summary.violations[0]?.message).toMatch(/never confirmed by sink/);
  });
});

describe('the durable-head rule (deferredFence: a full ring, an emit before the fence)', () => {
  test('slots reserved against the durable head: no invariant broken', async () => {
    const summary = await explore(
      'dead-letters',
      { model: 'px86', cuts: 'all' },
      { deferredFence: 1 },
    );
    expect(summary.counts.violationStates).toBe(0);
  });

  test('slots reserved against the volatile head: a retired record overwritten too early', async () => {
    const summary = await explore('mutant-volatile-head', { model: 'px86', cuts: 'all' });
    expect(summary.invariants['persist-order'] ?? 0).toBeGreaterThan(0);
    expect(summary.violations[0]?.message).toMatch(/nvrelay\.record\.discarded/);
  });

  test('without deferredFence the rule is never exercised (every pass fences what it retired)', async () => {
    const summary = await explore(
      'mutant-volatile-head',
      { model: 'px86', cuts: 'all' },
      { deferredFence: 0 },
    );
    expect(summary.counts.violationStates).toBe(0);
  });
});
