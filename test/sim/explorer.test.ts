import { describe, expect, test } from 'vitest';
import type { PersistencyModel } from '../../src/nvram/addon-api.js';
import { TracedNvram } from '../../src/nvram/traced.js';
import { imagesAtCut } from '../../sim/explore/candidates.js';
import { chooseCuts, Explorer, type ExploreOptions } from '../../sim/explore/explorer.js';
import { recordWorkload } from '../../sim/explore/recording.js';
import type { CrashSubject } from '../../sim/subject.js';
import { journal, linkedStack, phasedRecovery } from './subjects.js';

const models: PersistencyModel[] = ['px86', 'relaxed', 'eadr'];

function explore<R, M>(
  subject: CrashSubject<R, M>,
  options: Partial<ExploreOptions>,
): Explorer<R, M> {
  // Every image and every nested cut: the naive counts are then exact, not estimates.
  const everything = { imagesPerCut: 4096, nestedImagesPerCut: 4096, nestedCuts: 'all' as const };
  const explorer = new Explorer(subject, { ...everything, ...options });
  explorer.run();
  return explorer;
}

/** Sum over every cut of the images the model allows, computed on a fresh device per cut. */
function naiveCount<R, M>(subject: CrashSubject<R, M>, model: PersistencyModel): number {
  const recording = recordWorkload(subject);
  let total = 0;
  for (let cut = 0; cut <= recording.instructions; cut++) {
    const device = TracedNvram.fromImage(recording.start, { boot: false });
    device.applyTrace(recording.trace, 0, cut);
    total += device.imageCount(model);
    device.close();
  }
  return total;
}

describe('chooseCuts', () => {
  test('all visits every cut point from 0 to the instruction count', () => {
    expect(chooseCuts(5, 'all', 1)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  test('a sample is that many distinct ascending points, the same for the same seed', () => {
    const sample = chooseCuts(1000, 50, 7);
    expect(sample).toHaveLength(50);
    expect(new Set(sample).size).toBe(50);
    expect([...sample].sort((a, b) => a - b)).toEqual(sample);
    expect(sample.every((cut) => cut >= 0 && cut <= 1000)).toBe(true);
    expect(chooseCuts(1000, 50, 7)).toEqual(sample);
    expect(chooseCuts(1000, 50, 8)).not.toEqual(sample);
  });

  test('a sample larger than the trace is every cut', () => {
    expect(chooseCuts(3, 10, 1)).toEqual([0, 1, 2, 3]);
  });
});

describe('Explorer', () => {
  test('visits every cut point and counts every image the model allows as naive', () => {
    for (const model of models) {
      const subject = linkedStack(true);
      const explorer = explore(subject, { model });
      expect(explorer.counts.cuts).toBe(explorer.counts.instructions + 1);
      expect(explorer.counts.naiveStates).toBe(naiveCount(subject, model));
      expect(explorer.counts.imagesVisited).toBe(explorer.counts.naiveStates);
      expect(explorer.counts.crashStates + explorer.counts.prunedStates).toBe(
        explorer.counts.imagesVisited,
      );
    }
  });

  test('a correct structure has no violation under any model', () => {
    for (const model of models) {
      expect(explore(linkedStack(true), { model }).counts.violationStates).toBe(0);
      expect(explore(journal(true), { model, depth: 2 }).counts.violationStates).toBe(0);
    }
  });

  test('an unpersisted node is caught', () => {
    const found = explore(linkedStack(false), { model: 'px86' });
    expect(found.counts.violationStates).toBeGreaterThan(0);
    expect(found.violations[0]?.invariant).toBe('no garbage');
  });

  test('pruning loses no distinct outcome, even where recovery follows pointers', () => {
    for (const model of models) {
      for (const subject of [linkedStack(true), linkedStack(false)] as CrashSubject<
        unknown,
        unknown
      >[]) {
        const pruned = explore(subject, { model, collectOutcomes: true });
        const full = explore(subject, { model, collectOutcomes: true, prune: false });
        expect(full.counts.crashStates).toBe(full.counts.naiveStates);
        expect(pruned.counts.crashStates).toBeLessThan(full.counts.crashStates);
        expect([...pruned.outcomes].sort()).toEqual([...full.outcomes].sort());
        expect(pruned.counts.violationStates > 0).toBe(full.counts.violationStates > 0);
      }
    }
  });

  test('pruning loses no distinct outcome with nested crashes (depth 3)', () => {
    const subjects = [journal(true), journal(false), phasedRecovery()] as CrashSubject<
      unknown,
      unknown
    >[];
    for (const subject of subjects) {
      const pruned = explore(subject, { model: 'relaxed', depth: 3, collectOutcomes: true });
      const full = explore(subject, {
        model: 'relaxed',
        depth: 3,
        collectOutcomes: true,
        prune: false,
      });
      expect(pruned.counts.naiveStates).toBe(full.counts.naiveStates);
      expect(pruned.counts.crashStates).toBeLessThan(full.counts.crashStates / 2);
      expect([...pruned.outcomes].sort()).toEqual([...full.outcomes].sort());
    }
  });

  test('a recovery that is not restartable is caught only by a power cut during recovery', () => {
    expect(explore(journal(false), { model: 'px86', depth: 1 }).counts.violationStates).toBe(0);
    const nested = explore(journal(false), { model: 'px86', depth: 2 });
    expect(nested.counts.violationStates).toBeGreaterThan(0);
    const plan = nested.violations[0]?.plan;
    expect(plan?.steps).toHaveLength(2);
  });

  test('sampled images always include nothing-survived and everything-survived', () => {
    const recording = recordWorkload(linkedStack(false));
    const device = TracedNvram.fromImage(recording.start, { boot: false });
    device.applyTrace(recording.trace, 0, recording.instructions); // all 4 nodes still pending
    const count = device.imageCount('relaxed');
    expect(count).toBeGreaterThan(64);
    const { survivors } = imagesAtCut(device, 'relaxed', 10, 5);
    expect(survivors).toHaveLength(10);
    expect(Array.from(survivors[0] ?? [])).toEqual([]);
    expect(Array.from(survivors[1] ?? [])).toEqual(Array.from(device.pendingStores().ids));
    expect(new Set(survivors.map((ids) => ids.join(','))).size).toBe(10);
    for (const ids of survivors) expect(device.allows('relaxed', ids)).toBe(true);
    const all = imagesAtCut(device, 'px86', 4096, 5);
    expect(all.survivors).toHaveLength(device.imageCount('px86'));
    device.close();
  });

  test('sampling still finds what only middle images show', () => {
    const sampled = explore(linkedStack(false), { model: 'relaxed', imagesPerCut: 6, seed: 3 });
    expect(sampled.counts.imagesVisited).toBeLessThan(sampled.counts.naiveStates);
    expect(sampled.counts.violationStates).toBeGreaterThan(0);
  });

  test('the same seed gives the same exploration', () => {
    const a = explore(linkedStack(false), { model: 'relaxed', imagesPerCut: 3, seed: 9, cuts: 20 });
    const b = explore(linkedStack(false), { model: 'relaxed', imagesPerCut: 3, seed: 9, cuts: 20 });
    expect(b.counts).toEqual(a.counts);
    expect(b.violations.map((v) => v.token)).toEqual(a.violations.map((v) => v.token));
  });
});
