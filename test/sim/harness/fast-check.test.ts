/**
 * sim/harness/fast-check.ts's parts on their own: where a case cuts, which survivors each
 * persistency model adds to the picked ones, and assertCrashSafe's options (another model, no
 * minimizing, an input that is not an array).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { logCrashSpec } from '../../../examples/log-crash-spec.js';
import { PersistentLog } from '../../../examples/persistent-log.js';
import { MissingFenceLog } from '../../../examples/persistent-log-missing-fence.js';
import type { WordStoreList } from '../../../src/nvram/addon-api.js';
import type { CrashSpec } from '../../../sim/harness/crash-test.js';
import {
  CrashCounterexample,
  assertCrashSafe,
  closeUnderModel,
  cutOfCase,
} from '../../../sim/harness/fast-check.js';

describe('cutOfCase', () => {
  test('an explicit cut is clamped to the workload; without `back` the cut is at the end', () => {
    expect(cutOfCase({ input: [], cut: -3, picks: [] }, 10)).toBe(0);
    expect(cutOfCase({ input: [], cut: 25, picks: [] }, 10)).toBe(10);
    expect(cutOfCase({ input: [], cut: 4, back: 2, picks: [] }, 10)).toBe(4);
    expect(cutOfCase({ input: [], picks: [] }, 10)).toBe(10);
    expect(cutOfCase({ input: [], back: 13, picks: [] }, 10)).toBe(8);
  });
});

describe('closeUnderModel', () => {
  /** Four pending word-stores: ids 10..13; 10 and 12 on line 0, 11 and 13 on line 1. */
  const pending: WordStoreList = {
    ids: Float64Array.from([10, 11, 12, 13]),
    instructions: Float64Array.from([1, 2, 3, 4]),
    offsets: Float64Array.from([0, 64, 8, 72]),
    states: new Uint8Array(4),
  };

  test('nothing pending: nothing survives', () => {
    const none: WordStoreList = {
      ids: new Float64Array(0),
      instructions: new Float64Array(0),
      offsets: new Float64Array(0),
      states: new Uint8Array(0),
    };
    expect(closeUnderModel('px86', none, [0, 1])).toEqual([]);
  });

  test('relaxed keeps only the picked store; px86 adds earlier stores of its line', () => {
    // pick 0 counts back from the newest: id 12 is pick 1
    expect(closeUnderModel('relaxed', pending, [1])).toEqual([12]);
    expect(closeUnderModel('px86', pending, [1])).toEqual([10, 12]);
    expect(closeUnderModel('px86', pending, [0])).toEqual([11, 13]);
  });

  test('eadr adds every earlier store and the fenced ones', () => {
    expect(closeUnderModel('eadr', pending, [2])).toEqual([10, 11]);
    expect(closeUnderModel('eadr', pending, [], 3)).toEqual([10, 11, 12]);
  });
});

describe('assertCrashSafe options', () => {
  const input = fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 });

  test('the correct log holds under eadr too', () => {
    const correct = logCrashSpec(PersistentLog);
    expect(() =>
      assertCrashSafe(correct, { input, model: 'eadr', numRuns: 30, seed: 5 }),
    ).not.toThrow();
  });

  test('without minimizing, the shrunk counterexample is reported with the seed', () => {
    const broken = logCrashSpec(MissingFenceLog);
    let failure: unknown;
    try {
      assertCrashSafe(broken, { input, numRuns: 200, seed: 42, minimize: false });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(CrashCounterexample);
    expect((failure as Error).message).toMatch(/\nfast-check: seed 42, path "/);
  });

  test('an input that is not an array is minimized by cut and survivors only', () => {
    const log = logCrashSpec(MissingFenceLog);
    // a count of appends instead of the values: the workload appends 1..count
    const counted: CrashSpec<number, number[], number> = {
      name: 'counted-log',
      format: log.format,
      recover: log.recover,
      workload: (device, context, count) =>
        log.workload(
          device,
          context,
          Array.from({ length: count }, (_, i) => i + 1),
        ),
      check: (outcome, count) =>
        log.check(
          outcome,
          Array.from({ length: count }, (_, i) => i + 1),
        ),
    };
    let failure: unknown;
    try {
      assertCrashSafe(counted, { input: fc.integer({ min: 1, max: 4 }), numRuns: 200, seed: 7 });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(CrashCounterexample);
    expect(typeof (failure as CrashCounterexample).crash.input).toBe('number');
  });
});
