import { describe, expect, test } from 'vitest';
import { TracedNvram } from '../../src/nvram/traced.js';
import { checkHistory, HistoryChecker, type Observation } from '../../sim/checker/spec4.js';
import { imagesAtCut } from '../../sim/explore/candidates.js';
import { marksBefore, recordWorkload, runRecovery } from '../../sim/explore/recording.js';
import { workloadSubject } from '../../sim/workloads/registry.js';

interface Case {
  prefix: Observation[];
  recovery: Observation[];
}

/**
 * Real crash states of an event workload: for a few cuts, the workload's marks before the cut
 * and the marks of a recovery of each extreme image (nothing pending survived, everything did).
 */
function crashCases(workload: string, cutsWanted: number): Case[] {
  const { subject } = workloadSubject(workload);
  const recording = recordWorkload(subject);
  const cursor = TracedNvram.fromImage(recording.start, { boot: false });
  const image = new Uint8Array(cursor.sizeBytes);
  const cases: Case[] = [];
  const step = Math.max(1, Math.floor(recording.instructions / cutsWanted));
  for (let cut = 0; cut <= recording.instructions; cut += step) {
    cursor.applyTrace(recording.trace, cursor.instructionCount, cut);
    const images = imagesAtCut(cursor, 'px86', 2, cut);
    for (const survivors of images.survivors) {
      cursor.buildImage(survivors, image);
      const run = runRecovery(subject, image, false);
      if (run.threw) continue;
      // The event workloads' marks are the checker's observations (workloads/events.ts).
      const recovery = run.marks.map((mark) => mark.value as Observation);
      cases.push({ prefix: marksBefore(recording.marks, cut) as Observation[], recovery });
    }
  }
  cursor.close();
  return cases;
}

const cut: Observation = { kind: 'cut', epoch: 0 };

describe('HistoryChecker.trial', () => {
  // A mutant gives histories with findings too (the journal must undo those as well).
  test.each(['events-small', 'mutant-early-head', 'mutant-tail-before-record'])(
    '%s: trials one after another on one checker judge as fresh checkers do',
    (workload) => {
      const cases = crashCases(workload, 24);
      expect(cases.length).toBeGreaterThan(20);
      let findings = 0;
      // One checker for every case, extended in place as the prefixes grow (as the lab does).
      const shared = new HistoryChecker();
      let seen = 0;
      for (const { prefix, recovery } of cases) {
        expect(prefix.length).toBeGreaterThanOrEqual(seen);
        shared.observeAll(prefix.slice(seen));
        seen = prefix.length;
        const tried = shared.trial((checker) => {
          checker.observe(cut);
          checker.observeAll(recovery);
          return checker.finish();
        });
        const fresh = checkHistory([...prefix, cut, ...recovery]);
        expect(tried).toEqual(fresh);
        findings += fresh.findings.length;
      }
      if (workload.startsWith('mutant')) expect(findings).toBeGreaterThan(0);
    },
  );

  test('undoes the trial when it throws', () => {
    const [first] = crashCases('events-small', 4);
    const { prefix, recovery } = first as Case;
    const checker = new HistoryChecker();
    checker.observeAll(prefix);
    expect(() =>
      checker.trial((inside) => {
        inside.observe(cut);
        inside.observeAll(recovery);
        throw new Error('a check that throws');
      }),
    ).toThrow('a check that throws');
    expect(checker.finish()).toEqual(checkHistory(prefix));
  });
});
