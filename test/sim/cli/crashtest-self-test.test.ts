/**
 * What `nvrelay crashtest --self-test` prints (sim/cli/crashtest.ts), on a fixed set of mutant
 * results: the self-test's explorations are test/sim/mutants.test.ts's; here only the lines,
 * the verdict and the exit code are under test.
 */
import { describe, expect, test, vi } from 'vitest';
import type { SelfTestOptions, SelfTestResult } from '../../../sim/mutants/self-test.js';
import { runCrashtest, type Terminal } from '../../../sim/cli/crashtest.js';
import { crashtestArgs as args, terminal } from '../crashtest-args.js';

const results = vi.hoisted(() => ({ current: [] as SelfTestResult[] }));

vi.mock('../../../sim/mutants/self-test.js', () => ({
  runSelfTest: (options: SelfTestOptions) => {
    for (const result of results.current) {
      options.onProgress?.({ cutsDone: 1, cutsTotal: 1, crashStates: result.crashStates });
      options.onMutant?.(result);
    }
    return Promise.resolve(results.current);
  },
}));

function result(mutant: string, invariants: Record<string, number>): SelfTestResult {
  const caught = Object.keys(invariants).length > 0;
  return {
    mutant,
    description: `${mutant} described`,
    expects: ['no loss'],
    caught,
    crashStates: 10,
    violationStates: caught ? 2 : 0,
    invariants,
  };
}

const caught = result('mutant-a', { 'no loss': 2, 'no garbage': 1 });
const survivor = result('mutant-b', {});

describe('crashtest --self-test', () => {
  test('off a terminal, one line per mutant as it finishes, then the verdict; exit 0', async () => {
    results.current = [caught];
    const out = terminal();
    expect(await runCrashtest(args({ selfTest: true, json: false }), out)).toBe(0);
    expect(out.stdout).toEqual([
      '  caught   mutant-a: mutant-a described (no loss x2, no garbage x1)',
      'self-test: all 1 mutants caught',
    ]);
  });

  test('a surviving mutant is named SURVIVED with no violation, and the run exits 1', async () => {
    results.current = [caught, survivor];
    const out = terminal();
    expect(await runCrashtest(args({ selfTest: true, json: false }), out)).toBe(1);
    expect(out.stdout).toEqual([
      '  caught   mutant-a: mutant-a described (no loss x2, no garbage x1)',
      '  SURVIVED mutant-b: mutant-b described (no violation)',
      'self-test: 1 of 2 mutants SURVIVED: mutant-b',
    ]);
  });

  test('on a terminal the lines come after the progress display is stopped', async () => {
    results.current = [caught, survivor];
    const events: string[] = [];
    const out = terminal();
    const tty: Terminal = {
      ...out,
      tty: true,
      out: (text) => {
        events.push(`out ${text.split('\n')[0]}`);
        out.out(text);
      },
      progress: () => ({
        update: (progress) => events.push(`update ${progress.crashStates}`),
        stop: () => events.push('stop'),
      }),
    };
    expect(await runCrashtest(args({ selfTest: true, json: false }), tty)).toBe(1);
    expect(events).toEqual([
      'update 10',
      'update 10',
      'stop',
      'out   caught   mutant-a: mutant-a described (no loss x2, no garbage x1)',
      'out   SURVIVED mutant-b: mutant-b described (no violation)',
      'out self-test: 1 of 2 mutants SURVIVED: mutant-b',
    ]);
  });

  test('--json prints one object, ok false when a mutant survived', async () => {
    results.current = [caught, survivor];
    const out = terminal();
    expect(await runCrashtest(args({ selfTest: true, json: true }), out)).toBe(1);
    expect(out.stdout).toHaveLength(1);
    const report = JSON.parse(out.stdout[0] ?? '') as { ok: boolean; mutants: SelfTestResult[] };
    expect(report.ok).toBe(false);
    expect(report.mutants.map((m) => [m.mutant, m.caught])).toEqual([
      ['mutant-a', true],
      ['mutant-b', false],
    ]);
  });
});
