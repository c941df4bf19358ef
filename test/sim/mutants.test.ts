import { describe, expect, test } from 'vitest';
import { runCrashtest } from '../../sim/cli/crashtest.js';
import { defaultExploreOptions } from '../../sim/explore/explorer.js';
import { exploreWorkload } from '../../sim/explore/parallel.js';
import { eventMutants } from '../../sim/mutants/event-mutants.js';
import { mutantList, runSelfTest } from '../../sim/mutants/self-test.js';
import { crashtestArgs, terminal } from './crashtest-args.js';

describe('the self-test against mutants', () => {
  test('catches every mutant, each by the invariant it breaks', async () => {
    const results = await runSelfTest({ workers: 1 });
    expect(results.map((result) => result.mutant)).toEqual(
      mutantList().map((mutant) => mutant.workload),
    );
    expect(results.length).toBeGreaterThanOrEqual(eventMutants.length + 1);
    for (const result of results) {
      expect(result.caught, `${result.mutant} survived`).toBe(true);
      expect(result.expects.some((invariant) => (result.invariants[invariant] ?? 0) > 0)).toBe(
        true,
      );
      expect(result.first?.token).toMatch(/^nvr1\./);
    }
  }, 180_000); // every mutant explored: about a minute on a loaded 2-core machine

  test('the same workload with the correct classes breaks nothing', async () => {
    const summary = await exploreWorkload({
      workload: 'events',
      params: { seed: 1, events: 10, bootEvents: 1 },
      options: { ...defaultExploreOptions },
      workers: 1,
    });
    expect(summary.counts.violationStates).toBe(0);
  });

  test('--self-test exits 0 when every mutant is caught and prints one line per mutant', async () => {
    const out = terminal();
    const args = crashtestArgs({ workload: 'events', params: {}, selfTest: true });
    expect(await runCrashtest(args, out)).toBe(0);
    const report = JSON.parse(out.stdout[0] ?? '') as {
      ok: boolean;
      mutants: { caught: boolean }[];
    };
    expect(report.ok).toBe(true);
    expect(report.mutants.every((mutant) => mutant.caught)).toBe(true);
  }, 180_000); // every mutant explored: about a minute on a loaded 2-core machine

  test('--replay of a token from a mutant failure reproduces the same violation', async () => {
    for (const mutant of ['mutant-early-head', 'mutant-tail-before-record']) {
      const summary = await exploreWorkload({
        workload: mutant,
        options: { ...defaultExploreOptions, violationsMax: 1 },
        workers: 1,
      });
      const violation = summary.violations[0];
      expect(violation).toBeDefined();
      const out = terminal();
      const args = crashtestArgs({ workload: 'events', params: {}, replay: violation?.token });
      expect(await runCrashtest(args, out)).toBe(1);
      const replay = JSON.parse(out.stdout[0] ?? '') as {
        findings: { invariant: string; message: string }[];
      };
      expect(replay.findings).toContainEqual({
        invariant: violation?.invariant,
        message: violation?.message,
        ...(violation?.sequences === undefined ? {} : { sequences: violation.sequences }),
      });
    }
  });
});
