import { test as fcTest } from '@fast-check/vitest';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { logCrashSpec } from '../../examples/log-crash-spec.js';
import { MissingFenceLog } from '../../examples/persistent-log-missing-fence.js';
import { PersistentLog } from '../../examples/persistent-log.js';
import {
  assertCrashSafe,
  crashCases,
  CrashCounterexample,
  expectCrashSafe,
} from '../../sim/harness/fast-check.js';
import { crashTest, replayCrashTest } from '../../sim/harness/index.js';

const correct = logCrashSpec(PersistentLog);
const missingFence = logCrashSpec(MissingFenceLog);
const values = [17, 4, 99, 23, 8];
const models = ['px86', 'relaxed', 'eadr'] as const;

describe('crashTest on the example log', () => {
  test('the correct log survives a power cut at every instruction under every model', () => {
    for (const model of models) {
      const result = crashTest(correct, { input: values, model });
      expect(result.ok).toBe(true);
      expect(result.counts.cuts).toBe(result.counts.instructions + 1);
      expect(result.violations).toEqual([]);
    }
  });

  test('the log with a missing fence is caught under px86 and relaxed, not under eadr', () => {
    for (const model of ['px86', 'relaxed'] as const) {
      const result = crashTest(missingFence, { input: values, model });
      expect(result.ok).toBe(false);
      expect(result.violations[0]?.invariant).toBe('no garbage');
    }
    // eADR keeps a prefix of all stores in program order: the entry always precedes the count.
    expect(crashTest(missingFence, { input: values, model: 'eadr' }).ok).toBe(true);
  });

  test('the explanation of a violation names the missing fence and where it belongs', () => {
    const result = crashTest(missingFence, { input: values, model: 'px86' });
    const text = result.explain();
    expect(text).toMatch(
      /missing fence after instruction 1 \(the flush at examples\/persistent-log-missing-fence\.ts:\d+/,
    );
    expect(text).toContain('MissingFenceLog.persistEntry');
    expect(text).toContain('crash image vs durable image');
  });

  test('a token replays the same violation', () => {
    const result = crashTest(missingFence, { input: values, model: 'px86' });
    const violation = result.violations[0];
    expect(violation).toBeDefined();
    const replay = replayCrashTest(missingFence, violation?.token ?? '');
    expect(replay.result.findings).toEqual([
      { invariant: violation?.invariant, message: violation?.message },
    ]);
    expect(replay.result.plan).toEqual(violation?.plan);
    // The same plan on the correct log: that crash state does not exist there (or is fine).
    expect(() => replayCrashTest(correct, violation?.token ?? '')).not.toThrow(/assertion/);
  });
});

describe('assertCrashSafe (fast-check)', () => {
  const input = fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 6 });

  test('passes the correct log', () => {
    expect(() => assertCrashSafe(correct, { input, numRuns: 150, seed: 42 })).not.toThrow();
  });

  test('shrinks the missing fence to the smallest workload, cut and survivor set', () => {
    let failure: unknown;
    try {
      assertCrashSafe(missingFence, { input, numRuns: 300, seed: 42 });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(CrashCounterexample);
    const counterexample = failure as CrashCounterexample;
    // One append of a non-zero value (a lost zero entry would read back as itself) ...
    expect(counterexample.crash.input).toEqual([1]);
    // ... cut right after the count store (store entry, flush entry, store count | flush, fence) ...
    expect(counterexample.plan.steps).toEqual([{ cut: 3, survivors: [1] }]);
    // ... and the message names the missing fence: after the flush at instruction 1.
    expect(counterexample.gaps).toHaveLength(1);
    expect(counterexample.gaps[0]?.flush?.index).toBe(1);
    expect(counterexample.message).toMatch(
      /missing fence after instruction 1 \(the flush at examples\/persistent-log-missing-fence\.ts/,
    );
    expect(counterexample.message).toContain(counterexample.token);
    expect(counterexample.message).toMatch(/fast-check: seed 42, path "/);
    // The token alone reproduces it.
    expect(
      replayCrashTest(missingFence, counterexample.token).result.findings.length,
    ).toBeGreaterThan(0);
  });
});

describe('with @fast-check/vitest', () => {
  // The property a storage engineer would write: any input, any cut, any surviving stores.
  fcTest.prop([crashCases(fc.array(fc.integer({ min: 1, max: 1000 }), { maxLength: 5 }))], {
    numRuns: 100,
    seed: 7,
  })('the correct log survives every crash case', (crash) => {
    expectCrashSafe(correct, crash, 'px86');
  });

  test('the same property fails on the missing fence, with an explained counterexample', () => {
    const crash = { input: [5], cut: 3, picks: [0] }; // the newest store (the count) survives
    expect(() => expectCrashSafe(missingFence, crash, 'px86')).toThrow(
      /missing fence after instruction 1/,
    );
  });
});
