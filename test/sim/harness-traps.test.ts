/**
 * The harness's silent traps, each pinned: a boolean check, sampling reported as such, tokens
 * that refuse another spec, a set-up stage that is never cut, and the command line's --spec
 * and --report checks.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { logCrashSpec } from '../../examples/log-crash-spec.js';
import { MissingFenceLog } from '../../examples/persistent-log-missing-fence.js';
import { PersistentLog } from '../../examples/persistent-log.js';
import { runCrashtest } from '../../sim/cli/crashtest.js';
import {
  crashTest,
  CrashPlanError,
  replayCrashTest,
  type CrashSpec,
} from '../../sim/harness/index.js';
import { crashtestArgs, terminal } from './crashtest-args.js';

const correct = logCrashSpec(PersistentLog);
const broken = logCrashSpec(MissingFenceLog);
const values = [3, 1, 4, 1, 5];

describe('a check that returns a boolean', () => {
  const withBoolean = (Log: typeof PersistentLog): CrashSpec<number[], number[], number> => ({
    ...logCrashSpec(Log),
    check: ({ recovered, marks }, input) =>
      recovered.length >= marks.length && recovered.every((value, i) => value === input[i]),
  });

  test('true is fine: the correct log passes', () => {
    expect(crashTest(withBoolean(PersistentLog), { input: values, model: 'px86' }).ok).toBe(true);
  });

  test('false is a finding that says so', () => {
    const result = crashTest(withBoolean(MissingFenceLog), { input: values, model: 'px86' });
    expect(result.ok).toBe(false);
    expect(result.violations[0]).toMatchObject({
      invariant: 'check',
      message: 'check returned false',
    });
    expect(result.explain()).not.toContain('undefined');
  });

  test('anything else is refused with a clear error', () => {
    const odd = { ...correct, check: () => 42 as unknown as string };
    expect(() => crashTest(odd, { input: values, model: 'px86' })).toThrow(
      /check must return nothing, a boolean, a string/,
    );
  });
});

describe('exhaustive or sampled', () => {
  test('every cut and every image: exhaustive', () => {
    const result = crashTest(correct, { input: values, model: 'px86' });
    expect(result.exhaustive).toBe(true);
    expect(result.coverage.sampledCuts).toBe(0);
    expect(result.coverage.cutsVisited).toBe(result.coverage.cutPoints);
  });

  test('relaxed with more images than imagesPerCut: sampled, and the result says so', () => {
    // The entry is flushed but not fenced when the count is stored: 4 images at some cuts.
    const result = crashTest(broken, { input: values, model: 'relaxed', imagesPerCut: 2 });
    expect(result.exhaustive).toBe(false);
    expect(result.coverage.sampledCuts).toBeGreaterThan(0);
    expect(result.coverage.statesVisited).toBeLessThan(result.coverage.statesAllowed);
  });

  test('sampled cut points: not exhaustive', () => {
    expect(crashTest(correct, { input: values, model: 'px86', cuts: 3 }).exhaustive).toBe(false);
  });

  test('--json says whether the run was exhaustive, and how many states were sampled', async () => {
    const sampled = terminal();
    await runCrashtest(
      crashtestArgs({ workload: 'log-missing-fence', model: 'relaxed', imagesPerCut: 2 }),
      sampled,
    );
    const summary = JSON.parse(sampled.stdout[0] as string) as Record<string, unknown>;
    expect(summary).toMatchObject({ exhaustive: false });
    expect(summary['sampledCuts']).toBeGreaterThan(0);
    expect(summary['statesVisited']).toBeLessThan(summary['statesAllowed'] as number);
    const text = terminal();
    await runCrashtest(
      crashtestArgs({
        workload: 'log-missing-fence',
        model: 'relaxed',
        imagesPerCut: 2,
        json: false,
      }),
      text,
    );
    expect(text.stdout.join('\n')).toMatch(/SAMPLED, not exhaustive/);
  });
});

describe('replay tokens carry the identity of the trace', () => {
  test('a token replayed against another spec is refused, not silently clean', () => {
    const token = crashTest(broken, { input: values, model: 'px86' }).violations[0]?.token ?? '';
    expect(replayCrashTest(broken, token).result.findings.length).toBeGreaterThan(0);
    const other = { ...correct, name: broken.name };
    expect(() => replayCrashTest(other, token)).toThrow(CrashPlanError);
    expect(() => replayCrashTest(other, token)).toThrow(/another workload trace/);
    expect(() => replayCrashTest(correct, token)).toThrow(/not for the spec/);
    expect(() => replayCrashTest(broken, token, [9, 9, 9])).toThrow(/another workload trace/);
  });
});

describe('prepare: set-up that is never cut', () => {
  /** A log whose section must hold a magic word: an all-zero device is not a valid empty log. */
  const magic = 0x4c4f47;
  const prepared: CrashSpec<number[], number[], number> = {
    ...correct,
    name: 'prepared-log',
    format: {
      sizeBytes: 3 * 4096,
      sections: [
        { name: 'log', length: 4096 },
        { name: 'meta', length: 64 },
      ],
    },
    prepare(device) {
      const meta = device.section('meta').offset;
      device.storeU64(meta, magic);
      device.persist(meta, 8);
    },
    recover(device) {
      const meta = device.section('meta').offset;
      if (device.loadU64(meta) !== magic) throw new Error('not formatted');
      return new PersistentLog(device).entries();
    },
  };

  test('runs before recording: no cut sees the device without it', () => {
    const result = crashTest(prepared, { input: values, model: 'px86' });
    expect(result.violations).toEqual([]);
    expect(result.ok).toBe(true);
    const plain = crashTest(correct, { input: values, model: 'px86' });
    expect(result.counts.instructions).toBe(plain.counts.instructions); // prepare is not traced
  });
});

describe('nvrelay crashtest --spec and --report', () => {
  const spec = join(import.meta.dirname, 'fixtures', 'missing-fence-spec.ts');

  test('--spec explores a user module and --spec --replay replays its tokens', async () => {
    const explored = terminal();
    expect(await runCrashtest(crashtestArgs({ spec, json: false }), explored)).toBe(1);
    const text = explored.stdout.join('\n');
    const token = /--replay (nvr1\.\S+)/.exec(text)?.[1] ?? '';
    expect(text).toContain(`--spec ${spec} --replay`);
    const replayed = terminal();
    expect(await runCrashtest(crashtestArgs({ spec, replay: token, json: false }), replayed)).toBe(
      1,
    );
    expect(replayed.stdout.join('\n')).toContain('verdict: violation');
    // Without --spec the token names no workload the command knows.
    const refused = terminal();
    expect(await runCrashtest(crashtestArgs({ replay: token }), refused)).toBe(2);
  });

  test('--spec with a module that exports no spec: exit 2 and why', async () => {
    const out = terminal();
    const notSpec = join(import.meta.dirname, 'crashtest-args.ts');
    expect(await runCrashtest(crashtestArgs({ spec: notSpec }), out)).toBe(2);
    expect(out.stderr.join('\n')).toMatch(/export the crash spec/);
  });

  test('--report is checked before the run and says where it wrote', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'nvrelay-report-'));
    const missing = terminal();
    const nowhere = join(folder, 'no', 'such', 'report.html');
    expect(await runCrashtest(crashtestArgs({ report: nowhere }), missing)).toBe(2);
    expect(missing.stderr.join('\n')).toMatch(/does not exist/);
    const isFolder = terminal();
    expect(await runCrashtest(crashtestArgs({ report: folder }), isFolder)).toBe(2);
    const written = terminal();
    const path = join(folder, 'report.html');
    expect(await runCrashtest(crashtestArgs({ report: path }), written)).toBe(0);
    expect(written.stderr.join('\n')).toContain(`report written to ${path}`);
    expect(readFileSync(path, 'utf8')).toContain('<svg');
  });
});
