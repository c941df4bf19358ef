/**
 * sim/explain/explain.ts's explanation of one crash state, in the cases test/sim/explain.test.ts
 * does not reach: a state that breaks nothing, two power cuts in a row, and words recovery
 * loaded that a media fault changed rather than a lost store.
 */
import { describe, expect, test } from 'vitest';
import { logCrashSpec } from '../../../examples/log-crash-spec.js';
import { PersistentLog } from '../../../examples/persistent-log.js';
import { MissingFenceLog } from '../../../examples/persistent-log-missing-fence.js';
import { crashTest, replayCrashTest } from '../../../sim/harness/crash-test.js';
import { runCrashCase } from '../../../sim/harness/fast-check.js';

const correct = logCrashSpec(PersistentLog, 'log');
const broken = logCrashSpec(MissingFenceLog, 'broken-log');

describe('formatReplay', () => {
  test('a crash state that breaks nothing: one power cut, no invariant broken', () => {
    const { token } = runCrashCase(correct, { input: [3, 4], cut: 5, picks: [] }, 'px86');
    const { text, result } = replayCrashTest(correct, token);
    expect(result.findings).toEqual([]);
    expect(text).toMatch(/, 1 power cut\n/);
    expect(text).toMatch(/\nverdict: no invariant broken$/);
  });

  test('a violation found in a crashed recovery names both power cuts', () => {
    const result = crashTest(broken, {
      input: [3, 4],
      depth: 2,
      nestedCuts: 'all',
      violationsMax: 500,
    });
    const nested = result.violations.find((violation) => violation.plan.steps.length === 2);
    expect(nested).toBeDefined();
    const text = result.explain(nested);
    expect(text).toMatch(/, 2 power cuts\n/);
    expect(text.match(/^power cut in the /gm)).toHaveLength(2);
  });

  test('words recovery loaded that a media fault changed are blamed on the fault', () => {
    const result = crashTest(correct, {
      input: [3, 4],
      mediaFaults: { flips: 1, imagesPerCut: 2 },
      violationsMax: 50,
    });
    expect(result.ok).toBe(false); // the example log keeps no checksums
    const texts = result.violations.map((violation) => result.explain(violation));
    expect(texts.some((text) => text.includes(': changed by a media fault'))).toBe(true);
  });
});
