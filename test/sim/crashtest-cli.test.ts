import { Command, CommanderError } from 'commander';
import { describe, expect, test, vi } from 'vitest';
import { registerCrashtest } from '../../cli/crashtest.js';
import { runCrashtest } from '../../sim/cli/crashtest.js';
import { crashtestArgs as args, terminal } from './crashtest-args.js';

/** Parses a crashtest command line the way `nvrelay` does, without running the action. */
async function parse(argv: string[]): Promise<Record<string, unknown>> {
  const program = new Command('nvrelay').exitOverride();
  program.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerCrashtest(program);
  const command = program.commands.find((c) => c.name() === 'crashtest') as Command;
  command.exitOverride();
  let parsed: Record<string, unknown> = {};
  command.action((options: Record<string, unknown>) => {
    parsed = options;
  });
  await program.parseAsync(['node', 'nvrelay', 'crashtest', ...argv]);
  return parsed;
}

describe('nvrelay crashtest command line', () => {
  test('defaults: px86, every cut, 64 images per cut, depth 1, seed 1', async () => {
    const options = await parse([]);
    expect(options).toMatchObject({
      model: 'px86',
      cuts: 'all',
      imagesPerCut: 64,
      depth: 1,
      seed: 1,
      prune: true,
    });
  });

  test('parses every option', async () => {
    const options = await parse([
      '--workload',
      'log',
      '--model',
      'relaxed',
      '--cuts',
      '40',
      '--images-per-cut',
      '8',
      '--depth',
      '2',
      '--seed',
      '9',
      '--json',
      '--report',
      'r.html',
      '--param',
      'appends=3',
      '--no-prune',
    ]);
    expect(options).toMatchObject({
      workload: 'log',
      model: 'relaxed',
      cuts: 40,
      imagesPerCut: 8,
      depth: 2,
      seed: 9,
      json: true,
      report: 'r.html',
      param: { appends: 3 },
      prune: false,
    });
  });

  test.each([
    [['--model', 'x86']],
    [['--cuts', 'some']],
    [['--cuts', '0']],
    [['--depth', '0']],
    [['--images-per-cut', '1']],
    [['--seed', '-1']],
    [['--workload', 'nope']],
    [['--param', 'noequals']],
    [['--unknown-flag']],
  ])('rejects %j as bad usage', async (argv) => {
    await expect(parse(argv)).rejects.toBeInstanceOf(CommanderError);
  });
});

describe('runCrashtest', () => {
  test('--json prints one object with the summary fields; exit 0 without violation', async () => {
    const out = terminal();
    expect(await runCrashtest(args({}), out)).toBe(0);
    expect(out.stdout).toHaveLength(1);
    const summary = JSON.parse(out.stdout[0] ?? '') as Record<string, unknown>;
    for (const field of [
      'workload',
      'model',
      'instructions',
      'cuts',
      'crashStates',
      'violations',
      'elapsedMs',
      'statesPerSecond',
      'naiveStates',
    ]) {
      expect(summary).toHaveProperty(field);
    }
    expect(summary['violations']).toEqual([]);
    expect(summary['cuts']).toBe((summary['instructions'] as number) + 1);
  });

  test('exit 1 with violations that carry tokens, and --replay of one reproduces it', async () => {
    const out = terminal();
    expect(await runCrashtest(args({ workload: 'log-missing-fence' }), out)).toBe(1);
    const summary = JSON.parse(out.stdout[0] ?? '') as {
      violations: { token: string; invariant: string; message: string }[];
    };
    const first = summary.violations[0];
    expect(first?.token).toMatch(/^nvr1\./);
    const replay = terminal();
    expect(await runCrashtest(args({ replay: first?.token, json: false }), replay)).toBe(1);
    const text = replay.stdout.join('\n');
    expect(text).toContain(`[${first?.invariant}] ${first?.message}`);
    expect(text).toContain('instructions around the cut');
    expect(text).toMatch(/word-store\s+\d+\s+instruction\s+\d+\s+0x[0-9a-f]+\s+\w+\s+SURVIVED/);
    expect(text).toContain('crash image vs durable image');
    expect(text).toMatch(/missing fence after instruction \d+/);
  });

  test('a malformed token is bad usage (exit 2)', async () => {
    const out = terminal();
    expect(await runCrashtest(args({ replay: 'nvr1.garbage' }), out)).toBe(2);
    expect(out.stderr.join('')).toContain('CRASH_PLAN_INVALID');
  });

  test('a token naming an unknown workload is bad usage (exit 2)', async () => {
    const token = `nvr1.${Buffer.from(JSON.stringify({ w: 'nope', p: {}, m: 'px86', s: [[1, '']] })).toString('base64url')}`;
    const out = terminal();
    expect(await runCrashtest(args({ replay: token }), out)).toBe(2);
  });

  test('the text summary names the counts and the verdict', async () => {
    const out = terminal();
    await runCrashtest(args({ json: false }), out);
    expect(out.stdout.join('\n')).toMatch(/naive crash states; \d+ images visited, \d+ explored/);
    expect(out.stdout.join('\n')).toContain('no invariant broken');
  });

  test('no progress bar when not on a terminal', async () => {
    const write = vi.spyOn(process.stderr, 'write');
    await runCrashtest(args({ json: false }), terminal());
    expect(write).not.toHaveBeenCalled();
    write.mockRestore();
  });
});
