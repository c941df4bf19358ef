/**
 * Persist order H in the crash lab (sim/workloads/ha-mirror.ts): the partner mirror applying a
 * real node's updates (records, confirmations out of order, head moves, slot reuse round the
 * ring, a resynchronisation) is cut at every instruction, under each persistency model, and
 * recovered: every record the mirror had acknowledged and the partner had not finished is still
 * pending, at its position, and nothing is pending that the partner did not send.
 */
import { describe, expect, test } from 'vitest';
import { Explorer } from '../../sim/explore/explorer.js';
import { haMirrorLimits, haMirrorSubject, haMirrorUpdates } from '../../sim/workloads/ha-mirror.js';
import { workloadSubject } from '../../sim/workloads/registry.js';
import type { CrashSubject } from '../../sim/subject.js';

const updates = haMirrorUpdates(1, 30);

function explore(
  subject: CrashSubject,
  model: 'px86' | 'relaxed' | 'eadr',
): Explorer<unknown, unknown> {
  const explorer = new Explorer(subject, { model, imagesPerCut: 16 });
  explorer.run();
  return explorer;
}

describe('the partner mirror under power cuts (persist order H)', () => {
  test('the recorded updates exercise the ring, confirmations, head moves and a resync', () => {
    const runtime = updates.flatMap((update) => update.fifos.filter((part) => part.fifo === 1));
    const records = runtime.reduce((n, part) => n + part.records.length, 0);
    expect(records).toBeGreaterThan(haMirrorLimits.runtimeSlots as number); // wraps the ring
    expect(runtime.some((part) => part.confirmations.length > 0)).toBe(true);
    expect(new Set(runtime.map((part) => part.head)).size).toBeGreaterThan(2);
    // the resync sends again from the head: some update starts below the previous one's end
    expect(runtime.some((part, k) => k > 0 && part.from < (runtime[k - 1]?.from ?? 0))).toBe(true);
    // the same seed, the same updates: a crash plan replays
    expect(haMirrorUpdates(1, 30)).toEqual(updates);
  });

  test('an emit acknowledged when its update is sent, not applied, is caught losing events', () => {
    const result = explore(haMirrorSubject(updates, true) as CrashSubject, 'px86');
    expect(result.violations.length).toBeGreaterThan(0);
    expect(result.violations[0]?.message).toMatch(/acknowledged seq \d+ is lost/);
  });

  for (const model of ['px86', 'relaxed', 'eadr'] as const) {
    test(`every cut under ${model}: nothing acknowledged is lost, nothing pending is garbage`, () => {
      const result = explore(workloadSubject('ha').subject, model);
      expect(result.violations.map((violation) => violation.message)).toEqual([]);
      expect(result.counts.cuts).toBe(result.counts.instructions + 1);
    });
  }
});
