/**
 * sim/harness/fast-check.ts's minimizing and its one-case check, on toy specs whose failing
 * crash states are known exactly: a workload of word-stores without a fence, then a mark, and
 * a check that fails on chosen sets of surviving stores.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { logCrashSpec } from '../../../examples/log-crash-spec.js';
import { PersistentLog } from '../../../examples/persistent-log.js';
import type { CrashSpec } from '../../../sim/harness/crash-test.js';
import {
  CrashCounterexample,
  assertCrashSafe,
  expectCrashSafe,
  minimizeCrash,
  runCrashCase,
} from '../../../sim/harness/fast-check.js';

/**
 * Stores 7 at each of `offsets` (the input is how many of them), then marks; the check fails
 * when `fails` holds of which stores survived (once the workload has marked).
 */
function toySpec(
  offsets: readonly number[],
  fails: (survived: boolean[]) => boolean,
): CrashSpec<number, boolean[], number> {
  return {
    name: 'toy',
    format: { sizeBytes: 8192, sections: [{ name: 'words', length: 4096 }] },
    workload(device, context, count) {
      const base = device.section('words').offset;
      for (const offset of offsets.slice(0, count)) device.storeU64(base + offset, 7);
      context.mark(1);
    },
    recover(device) {
      const base = device.section('words').offset;
      return offsets.map((offset) => device.loadU64(base + offset) === 7);
    },
    check({ recovered, marks }) {
      return marks.length > 0 && fails(recovered)
        ? [{ invariant: 'toy', message: `survived: ${JSON.stringify(recovered)}` }]
        : [];
    },
  };
}

/** Three stores on three cache lines. */
const threeLines = [0, 64, 128];
/** Two stores on one cache line: px86 keeps the second only with the first. */
const oneLine = [0, 8];

function survivorsOf(verdict: { plan: { steps: { survivors: number[] }[] } }): number[] {
  return verdict.plan.steps[0]?.survivors ?? [];
}

describe('expectCrashSafe', () => {
  const spec = toySpec(threeLines, ([, , c]) => c === true);

  test('a case that breaks nothing returns', () => {
    expect(() => expectCrashSafe(spec, { input: 3, cut: 3, picks: [] }, 'relaxed')).not.toThrow();
  });

  test('a case that breaks the spec throws its counterexample, explained, with the token', () => {
    let failure: unknown;
    try {
      expectCrashSafe(spec, { input: 3, cut: 3, picks: [0] }, 'relaxed');
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(CrashCounterexample);
    const counterexample = failure as CrashCounterexample;
    expect(counterexample.code).toBe('CRASH_COUNTEREXAMPLE');
    expect(counterexample.crash).toMatchObject({ input: 3, cut: 3 });
    expect(counterexample.crash.survivors).toHaveLength(1);
    expect(counterexample.findings.map((f) => f.invariant)).toEqual(['toy']);
    expect(counterexample.message).toMatch(/^crash counterexample: input 3, cut 3, 1 surviving/);
    expect(counterexample.message).toContain(counterexample.token);
  });
});

describe('assertCrashSafe', () => {
  test('with the default number of runs and no seed, a correct spec holds', () => {
    const correct = logCrashSpec(PersistentLog);
    expect(() => assertCrashSafe(correct, { input: fc.constant([4, 2]) })).not.toThrow();
  });
});

describe('minimizeCrash', () => {
  test('of several failing states at the earliest cut, the one with fewest survivors is kept', () => {
    // fails with {a, b} and with every set holding c: {c} is the smallest
    const spec = toySpec(threeLines, ([a, b, c]) => c === true || (a === true && b === true));
    const all = runCrashCase(spec, { input: 3, cut: 3, picks: [0, 1, 2] }, 'relaxed');
    expect(all.findings).toHaveLength(1);
    expect(survivorsOf(all)).toHaveLength(3);
    const minimal = minimizeCrash(spec, 3, all, 'relaxed');
    expect(minimal.input).toBe(3);
    expect(minimal.verdict.plan.steps[0]?.cut).toBe(3);
    expect(survivorsOf(minimal.verdict)).toEqual([survivorsOf(all)[2]]);
    expect(minimal.verdict.findings[0]?.message).toBe('survived: [false,false,true]');
  });

  test('a survivor px86 cannot drop alone stays, one it can drop goes', () => {
    // fails whenever the second store of the line survived; px86 keeps it only with the first
    const spec = toySpec(oneLine, ([, b]) => b === true);
    const both = runCrashCase(spec, { input: 2, cut: 2, picks: [0] }, 'px86');
    expect(survivorsOf(both)).toHaveLength(2);
    const minimal = minimizeCrash(spec, 2, both, 'px86');
    expect(survivorsOf(minimal.verdict)).toEqual(survivorsOf(both));
    expect(minimal.verdict.findings).toHaveLength(1);
  });

  test('a counterexample no state of the model reproduces is kept as it was', () => {
    // the second store without the first: relaxed allows it, px86 never does
    const spec = toySpec(oneLine, ([a, b]) => b === true && a !== true);
    const relaxed = runCrashCase(spec, { input: 2, cut: 2, picks: [0] }, 'relaxed');
    expect(relaxed.findings).toHaveLength(1);
    const minimal = minimizeCrash(spec, 2, relaxed, 'px86');
    expect(minimal.verdict.token).toBe(relaxed.token);
    expect(minimal.input).toBe(2);
  });

  test('a failure with nothing surviving has no survivor to drop', () => {
    // the acknowledged store lost
    const spec = toySpec(threeLines.slice(0, 1), ([a]) => a !== true);
    const lost = runCrashCase(spec, { input: 1, cut: 1, picks: [] }, 'px86');
    expect(survivorsOf(lost)).toEqual([]);
    const minimal = minimizeCrash(spec, 1, lost, 'px86');
    expect(minimal.verdict.plan.steps[0]).toEqual({ cut: 1, survivors: [] });
    expect(minimal.verdict.findings).toHaveLength(1);
  });
});
