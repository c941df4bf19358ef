/**
 * What the explorer (sim/explore/explorer.ts) keeps of each crash state: the outcome keys with a
 * subject's own outcomeKey and with a recovery that throws, and the images with media faults
 * (bit flips aimed at the words recovery loaded) with and without pruning. Pruning is exact
 * (state-index.ts): it loses no outcome, faulted images included; a recovery that loads no word
 * gives flips nothing to aim at.
 */
import { describe, expect, test } from 'vitest';
import { Explorer, type ExploreOptions } from '../../sim/explore/explorer.js';
import type { CrashSubject } from '../../sim/subject.js';
import { workloadSubject } from '../../sim/workloads/registry.js';
import { linkedStack, stackValues } from './subjects.js';

const everything = { imagesPerCut: 4096 };
const media: Partial<ExploreOptions> = { mediaFaults: { flips: 1, imagesPerCut: 2 } };

function explore<R, M>(
  subject: CrashSubject<R, M>,
  options: Partial<ExploreOptions>,
): Explorer<R, M> {
  const explorer = new Explorer(subject, { ...everything, ...options });
  explorer.run();
  return explorer;
}

/** The recovered part of an outcome key: `epoch#recovered#marks#findings`. */
const recoveredOf = (outcome: string): string => outcome.split('#')[1] as string;

describe('outcomes of the crash states', () => {
  test("a subject's outcomeKey names what recovery found", () => {
    const subject = {
      ...linkedStack(true),
      outcomeKey: (recovered: number[]) => `depth ${recovered.length}`,
    };
    const explorer = explore(subject, { collectOutcomes: true });
    const recovered = new Set([...explorer.outcomes].map(recoveredOf));
    // every depth from the empty stack to the full one, and nothing else
    const depths = Array.from({ length: stackValues.length + 1 }, (_, i) => `depth ${i}`);
    expect(recovered).toEqual(new Set(depths));
  });

  test('a recovery that throws is the outcome "threw" and a violation of completing', () => {
    const stack = linkedStack(true);
    const subject: CrashSubject<number[], number> = {
      ...stack,
      recover(device, context) {
        const values = stack.recover(device, context);
        if (values.length === 2) throw new Error('two values');
        return values;
      },
    };
    const explorer = explore(subject, { collectOutcomes: true, violationsMax: 1 });
    const recovered = [...explorer.outcomes].map(recoveredOf);
    expect(recovered).toContain('threw');
    expect(recovered).toContain('[]'); // the default key, canonical JSON, for the others
    expect(explorer.invariants.get('recovery completes')).toBeGreaterThan(0);
    expect(explorer.violations[0]).toMatchObject({
      invariant: 'recovery completes',
      message: 'Error: two values',
    });
  });

  test('an empty list of cuts explores nothing', () => {
    const explorer = new Explorer(linkedStack(true), everything);
    explorer.run([]);
    expect(explorer.counts.instructions).toBeGreaterThan(0);
    expect(explorer.counts.cuts).toBe(0);
    expect(explorer.counts.crashStates).toBe(0);
    expect(explorer.counts.imagesVisited).toBe(0);
  });
});

describe('media faults', () => {
  test('without pruning, every cut gets its faulted images, each one recovered', () => {
    const clean = explore(linkedStack(true), { prune: false });
    const faulted = explore(linkedStack(true), { ...media, prune: false });
    expect(faulted.counts.prunedStates).toBe(0);
    expect(faulted.counts.imagesVisited - clean.counts.imagesVisited).toBe(2 * clean.counts.cuts);
    expect(faulted.counts.crashStates).toBe(faulted.counts.imagesVisited);
  });

  test('pruning loses no outcome of a faulted image', () => {
    // the event workload: many of its crash states are pruned, the faulted ones kept apart
    const { subject } = workloadSubject('events-small');
    const options = { ...media, cuts: 30, imagesPerCut: 2, collectOutcomes: true };
    const pruned = explore(subject, options);
    const full = explore(subject, { ...options, prune: false });
    expect(pruned.counts.prunedStates).toBeGreaterThan(0);
    expect(pruned.counts.crashStates).toBeLessThan(full.counts.crashStates);
    // faulted images have outcomes of their own (their epoch ends in #media)
    expect([...full.outcomes].some((o) => o.includes('#media#'))).toBe(true);
    expect([...pruned.outcomes].sort()).toEqual([...full.outcomes].sort());
  });

  test('a recovery that loads no word gives the flips nowhere to aim', () => {
    const blind: CrashSubject<number[], number> = { ...linkedStack(true), recover: () => [] };
    const clean = explore(blind, { prune: false });
    const faulted = explore(blind, { ...media, prune: false });
    expect(faulted.counts.cuts).toBe(clean.counts.cuts);
    expect(faulted.counts.imagesVisited).toBe(clean.counts.imagesVisited);
  });
});
