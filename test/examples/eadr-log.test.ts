/**
 * A structure without flushes that is correct on eADR and broken on px86 (examples/eadr-log.ts):
 * the eadr model lets a fence drain every earlier store, flushed or not.
 */
import { describe, expect, test } from 'vitest';
import { EadrLog } from '../../examples/eadr-log.js';
import { logCrashSpec } from '../../examples/log-crash-spec.js';
import { crashTest } from '../../sim/harness/index.js';

const spec = logCrashSpec(EadrLog);
const values = [17, 4, 99, 23, 8];

describe('the eADR log (entries ordered by a fence alone)', () => {
  test('is correct under eadr: every cut, every image', () => {
    const result = crashTest(spec, { input: values, model: 'eadr' });
    expect(result.violations).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.counts.cuts).toBe(result.counts.instructions + 1);
  });

  test('is broken under px86 and relaxed: the count survives without its unflushed entry', () => {
    for (const model of ['px86', 'relaxed'] as const) {
      const result = crashTest(spec, { input: values, model });
      expect(result.ok).toBe(false);
      expect(result.violations[0]?.invariant).toBe('no garbage');
      expect(result.explain()).toMatch(/missing persist \(flush \+ fence\)/);
    }
  });
});
