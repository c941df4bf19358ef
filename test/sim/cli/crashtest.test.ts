/**
 * sim/cli/crashtest.ts beyond the common runs (test/sim/crashtest-cli.test.ts): media faults,
 * the worker default, sampled exploration, the progress display, a clean --spec, and the ways a
 * --spec module can fail to load.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { coverageLine, runCrashtest, type Terminal } from '../../../sim/cli/crashtest.js';
import { crashtestArgs as args, terminal } from '../crashtest-args.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures');
const correctSpec = join(fixtures, 'correct-log-spec.ts');
const brokenSpec = join(fixtures, 'missing-fence-spec.ts');
const folder = mkdtempSync(join(tmpdir(), 'nvrelay-crashtest-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

interface Summary {
  imagesVisited: number;
  naiveStates: number;
  crashStates: number;
  pruningFactor: number | null;
  exhaustive: boolean;
  cuts: number;
  workers: number;
  violationStates: number;
}

function summaryOf(out: { stdout: string[] }): Summary {
  return JSON.parse(out.stdout.join('\n')) as Summary;
}

describe('exploring a workload', () => {
  test('--media-faults adds faulted images, and the example log (no checksums) fails them', async () => {
    const plain = terminal();
    const faulted = terminal();
    expect(await runCrashtest(args({ params: { appends: 2 } }), plain)).toBe(0);
    const withFaults = args({ params: { appends: 2 }, mediaFaults: 1 });
    expect(await runCrashtest(withFaults, faulted)).toBe(1);
    expect(summaryOf(faulted).imagesVisited).toBeGreaterThan(summaryOf(plain).imagesVisited);
    expect(summaryOf(faulted).violationStates).toBeGreaterThan(0);
  });

  test('without --workers the exploration still runs to the same counts', async () => {
    const one = terminal();
    const all = terminal();
    await runCrashtest(args({ params: { appends: 2 } }), one);
    await runCrashtest(args({ params: { appends: 2 }, workers: undefined }), all);
    expect(summaryOf(all).crashStates).toBe(summaryOf(one).crashStates);
    expect(summaryOf(all).workers).toBeGreaterThanOrEqual(1);
  });

  test('sampled cuts are reported as not exhaustive, in JSON and in text', async () => {
    const json = terminal();
    expect(await runCrashtest(args({ cuts: 3 }), json)).toBe(0);
    const summary = summaryOf(json);
    expect(summary.exhaustive).toBe(false);
    expect(summary.cuts).toBeLessThanOrEqual(4);
    const text = terminal();
    await runCrashtest(args({ cuts: 3, json: false, workers: 2 }), text);
    expect(text.stdout.join('\n')).toMatch(/SAMPLED, not exhaustive: \d+ of \d+ cut points/);
    expect(text.stdout.join('\n')).toMatch(/ on 2 cores/);
  });

  test('a workload explored in text names each violation with its replay command', async () => {
    const out = terminal();
    expect(await runCrashtest(args({ workload: 'log-missing-fence', json: false }), out)).toBe(1);
    expect(out.stdout.join('\n')).toMatch(/replay: nvrelay crashtest --replay nvr1\./);
  });

  test('on a terminal the progress display is started, updated and stopped', async () => {
    const events: string[] = [];
    const out: Terminal = {
      ...terminal(),
      tty: true,
      progress: () => ({
        update: () => events.push('update'),
        stop: () => events.push('stop'),
      }),
    };
    expect(await runCrashtest(args({ json: false }), out)).toBe(0);
    expect(events).toContain('update');
    expect(events.at(-1)).toBe('stop');
  });

  test('an existing report file is overwritten', async () => {
    const path = join(folder, 'existing.html');
    writeFileSync(path, 'old');
    expect(await runCrashtest(args({ report: path }), terminal())).toBe(0);
    expect(readFileSync(path, 'utf8')).toContain('<svg');
  });
});

describe('coverageLine', () => {
  const counts = {
    instructions: 9,
    cuts: 10,
    sampledCuts: 0,
    nestedCutsSkipped: 0,
    imagesVisited: 40,
    naiveStates: 50,
  };

  test('names sampled images and skipped nested cuts', () => {
    const line = coverageLine({ ...counts, sampledCuts: 2, nestedCutsSkipped: 3 } as never);
    expect(line).toContain('images sampled at 2 cuts');
    expect(line).toContain('3 cut points of recoveries skipped');
    expect(line).not.toContain('of 10 cut points');
  });
});

describe('--spec', () => {
  test('a clean spec explores to exit 0, in JSON, with its report', async () => {
    const out = terminal();
    const report = join(folder, 'spec.html');
    expect(await runCrashtest(args({ spec: correctSpec, report }), out)).toBe(0);
    expect(summaryOf(out).violationStates).toBe(0);
    expect(readFileSync(report, 'utf8')).toContain('<svg');
  });

  test('--replay of a spec token in JSON gives its findings', async () => {
    const explored = terminal();
    await runCrashtest(args({ spec: brokenSpec }), explored);
    const token = (JSON.parse(explored.stdout.join('\n')) as { violations: { token: string }[] })
      .violations[0]?.token;
    const replayed = terminal();
    expect(await runCrashtest(args({ spec: brokenSpec, replay: token }), replayed)).toBe(1);
    const result = JSON.parse(replayed.stdout.join('\n')) as { findings: unknown[]; token: string };
    expect(result.token).toBe(token);
    expect(result.findings.length).toBeGreaterThan(0);
  });

  test('a missing module is bad usage', async () => {
    const out = terminal();
    const missing = join(folder, 'no-such-spec.js');
    expect(await runCrashtest(args({ spec: missing }), out)).toBe(2);
    expect(out.stderr.join('\n')).toContain(`--spec ${missing}: no such file`);
  });

  test('a module that throws while loading is bad usage, with its reason', async () => {
    const throwsError = join(folder, 'throws-error.mjs');
    writeFileSync(throwsError, "throw new Error('no device here');\n");
    const throwsText = join(folder, 'throws-text.mjs');
    writeFileSync(throwsText, "throw 'not an Error';\n");
    const first = terminal();
    expect(await runCrashtest(args({ spec: throwsError }), first)).toBe(2);
    expect(first.stderr.join('\n')).toContain('cannot load the module: no device here');
    const second = terminal();
    expect(await runCrashtest(args({ spec: throwsText }), second)).toBe(2);
    expect(second.stderr.join('\n')).toContain('cannot load the module: not an Error');
  });

  test('a spec without its input can only be replayed, not explored', async () => {
    const noInput = join(folder, 'no-input.mjs');
    writeFileSync(
      noInput,
      'export const spec = { format: {}, workload() {}, recover() {}, check() {} };\n',
    );
    const out = terminal();
    expect(await runCrashtest(args({ spec: noInput }), out)).toBe(2);
    expect(out.stderr.join('\n')).toMatch(/export the workload's `input` to explore it/);
  });
});
