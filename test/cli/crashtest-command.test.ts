/**
 * cli/crashtest.ts's action, run in process: the command line becomes the lab's arguments
 * (parameters typed from their text, the optional flags passed on only when given).
 */
import { Command } from 'commander';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { registerCrashtest } from '../../cli/crashtest.js';

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

/** Runs `nvrelay crashtest ...argv`; returns the exit code and what it wrote. */
async function crashtest(argv: string[]): Promise<{ code: unknown; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  const program = new Command('nvrelay').exitOverride();
  registerCrashtest(program);
  await program.parseAsync(['node', 'nvrelay', 'crashtest', ...argv]);
  const code = process.exitCode;
  vi.restoreAllMocks();
  return { code, out, err };
}

describe('nvrelay crashtest, in process', () => {
  test('--param values are numbers, true, false or text', async () => {
    const { code, out } = await crashtest([
      '--workload',
      'log',
      '--param',
      'appends=2',
      '--param',
      'checked=true',
      '--param',
      'verbose=false',
      '--param',
      'label=x1',
      '--cuts',
      'all',
      '--workers',
      '1',
      '--json',
    ]);
    expect(code).toBe(0);
    const summary = JSON.parse(out) as { params: Record<string, unknown>; workers: number };
    expect(summary.params).toMatchObject({
      appends: 2,
      checked: true,
      verbose: false,
      label: 'x1',
    });
    expect(summary.workers).toBe(1);
  });

  test('--replay and --spec reach the lab: a bad token and a missing module are bad usage', async () => {
    const replay = await crashtest(['--replay', 'nvr1.garbage']);
    expect(replay.code).toBe(2);
    expect(replay.err).toMatch(/^nvrelay crashtest: /);
    const spec = await crashtest(['--spec', 'no-such-spec.js', '--report', 'report.html']);
    expect(spec.code).toBe(2);
    expect(spec.err).toContain('--spec no-such-spec.js: no such file');
  });
});
