/**
 * --json on the commands that do not speak to a daemon (those that do: json-daemon.test.ts),
 * run as a user runs them: the built CLI in a child process (`npm run build` first). A command
 * that prints one result prints one JSON object; `demo` prints JSON Lines, one fact a line; an
 * error is `{"error":{"code","message"}}` on stdout, nothing on stderr.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatLimits, formatNodeDevice } from '../../src/node/device-file.js';
import { Node } from '../../src/node/node.js';
import { DirectNvram } from '../../src/nvram/index.js';

const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-json-'));
const deviceBytes = 1 << 20;

beforeAll(() => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run 'npm run build' first`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function nvrelay(args: string[], cwd = dir): Run {
  const result = spawnSync(process.execPath, [main, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every line of stdout parsed as JSON (stdout must end with a newline). */
function jsonLines(stdout: string): Record<string, unknown>[] {
  expect(stdout.endsWith('\n'), 'stdout ends with a newline').toBe(true);
  return stdout
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The run failed with `code` as one JSON line on stdout, exit `status`, nothing on stderr. */
function expectJsonError(run: Run, code: string, status: number): string {
  expect(run.stderr).toBe('');
  expect(run.status).toBe(status);
  const lines = jsonLines(run.stdout);
  expect(lines).toEqual([{ error: { code, message: expect.any(String) } }]);
  return (lines[0] as { error: { message: string } }).error.message;
}

let deviceCount = 0;

/** A node device where 'audit' confirmed three events and 'gone' owes them. */
function preparedDevice(): { path: string; seqs: number[] } {
  const path = join(dir, `device-${deviceCount++}.nvram`);
  formatNodeDevice(path, deviceBytes, formatLimits(deviceBytes, 256));
  const device = DirectNvram.open(path);
  const node = Node.boot(device, { scheduling: 'manual' });
  node.registerRecipient('audit', {}, (event, recipient) => recipient.confirm(event.seq));
  node.registerRecipient('gone', {}, () => {});
  node.start();
  const disks = node.producer('raid');
  const seqs = [0, 1, 2].map((disk) => disks.emitJson('disk.failed', 'err', { disk }));
  node.drainUntilIdle();
  node.close();
  device.close();
  return { path, seqs };
}

describe('--json on every command', () => {
  test('each command and subcommand lists --json in its help', () => {
    const help = nvrelay(['--help']).stdout;
    const commands = [...help.matchAll(/^ {2}([a-z]+)\b/gm)]
      .map((match) => match[1] as string)
      .filter((name) => name !== 'help');
    expect(commands).toEqual(expect.arrayContaining(['demo', 'recipients', 'serve', 'emit']));
    expect(commands).toContain('tail');
    const subcommands = commands.flatMap((name) =>
      name === 'recipients' ? [['recipients', 'retire']] : [[name]],
    );
    for (const command of subcommands) {
      expect(nvrelay([...command, '--help']).stdout, command.join(' ')).toMatch(/^ +--json\b/m);
    }
  });
});

describe('nvrelay recipients retire --json', () => {
  test('prints {path, recipient, deadLettered} and nothing else', () => {
    const { path, seqs } = preparedDevice();
    const run = nvrelay(['recipients', 'retire', path, 'gone', '--reason', 'gone', '--json']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ path, recipient: 'gone', deadLettered: 3 });
    const dump = JSON.parse(nvrelay(['dump', path, '--json']).stdout) as {
      deadLetters: { seq: number; reason: string }[];
    };
    expect(dump.deadLetters.map((letter) => [letter.seq, letter.reason])).toEqual(
      seqs.map((seq) => [seq, 'recipient-retired']),
    );
  });

  test('a recipient that owes nothing: deadLettered 0', () => {
    const { path } = preparedDevice();
    const run = nvrelay(['recipients', 'retire', path, 'audit', '--json']);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ path, recipient: 'audit', deadLettered: 0 });
  });

  test('an unknown name, a missing device, a damaged one: the typed error as JSON, exit 1', () => {
    const { path } = preparedDevice();
    expect(
      expectJsonError(
        nvrelay(['recipients', 'retire', path, 'nobody', '--json']),
        'RECIPIENT_UNKNOWN',
        1,
      ),
    ).toContain('nobody');
    const absent = join(dir, 'absent.nvram');
    expectJsonError(
      nvrelay(['recipients', 'retire', absent, 'gone', '--json']),
      'NVRAM_FILE_MISSING',
      1,
    );
    const garbage = join(dir, 'garbage.nvram');
    writeFileSync(garbage, 'not a device\n');
    expectJsonError(
      nvrelay(['recipients', 'retire', garbage, 'gone', '--json']),
      'NVRAM_TRUNCATED',
      1,
    );
  });

  test('a missing argument or an unknown option is USAGE, exit 2', () => {
    const { path } = preparedDevice();
    expect(expectJsonError(nvrelay(['recipients', 'retire', '--json']), 'USAGE', 2)).toContain(
      'device',
    );
    expect(
      expectJsonError(nvrelay(['recipients', 'retire', path, '--json']), 'USAGE', 2),
    ).toContain('name');
    expect(
      expectJsonError(
        nvrelay(['recipients', 'retire', path, 'gone', '--frobnicate', '--json']),
        'USAGE',
        2,
      ),
    ).toContain('--frobnicate');
  });
});

describe('nvrelay dump --json', () => {
  test('an empty device: no pending event, no dead letter; a damaged one: JSON error', () => {
    const path = join(dir, 'empty.nvram');
    formatNodeDevice(path, deviceBytes, formatLimits(deviceBytes, 256));
    const run = nvrelay(['dump', path, '--json']);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ path, pending: [], deadLetters: [] });
    const garbage = join(dir, 'dump-garbage.nvram');
    writeFileSync(garbage, Buffer.alloc(8192, 0x5a));
    expectJsonError(nvrelay(['dump', garbage, '--json']), 'NVRAM_BAD_MAGIC', 1);
  });
});

interface DemoFact {
  fact: string;
  phase?: string;
  stage?: string;
  seq?: number;
  recipient?: string;
  replayed?: boolean | number;
  pending?: { seq: number; type: string; owed: string[] }[];
  [key: string]: unknown;
}

describe('nvrelay demo --json', () => {
  test('JSON Lines: the facts before the cut, the cut, the replay first after the reboot', () => {
    const cwd = join(dir, 'demo');
    mkdirSync(cwd);
    const run = nvrelay(['demo', '--json'], cwd);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const facts = jsonLines(run.stdout) as DemoFact[];
    expect(facts[0]).toEqual({ fact: 'formatted', device: './nvrelay-demo.nvram', bytes: 4 << 20 });
    expect(facts[1]).toEqual({ fact: 'device', stage: 'found', bootCount: 0, pending: [] });
    const cut = facts.findIndex((f) => f.fact === 'power-cut');
    const before = facts.slice(2, cut);
    const afterCut = facts[cut + 1] as DemoFact;
    const after = facts.slice(cut + 2, -1);
    const end = facts[facts.length - 1] as DemoFact;
    // before the cut: one boot, 8 emits (a few more lines may have been in the pipe)
    expect(new Set(before.map((f) => f.phase))).toEqual(new Set(['before-cut']));
    expect(before[0]).toEqual({ fact: 'boot', bootCount: 1, replayed: 0, phase: 'before-cut' });
    const emitted = before.filter((f) => f.fact === 'emit');
    expect(emitted.length).toBeGreaterThanOrEqual(8);
    expect(facts[cut]).toEqual({
      fact: 'power-cut',
      emitted: 8,
      delivered: before.filter((f) => f.fact === 'deliver').length,
      confirmed: before.filter((f) => f.fact === 'confirm').length,
    });
    for (const f of emitted) {
      expect(Object.keys(f).sort()).toEqual(['fact', 'phase', 'seq', 'severity', 'type']);
    }
    // what the cut left owed is exactly what the reboot replays, before any new emit
    expect(afterCut).toMatchObject({ fact: 'device', stage: 'after-cut', bootCount: 1 });
    const owed = (afterCut.pending ?? []).flatMap((event) =>
      event.owed.map((recipient) => `${event.seq} ${recipient}`),
    );
    expect(owed.length).toBeGreaterThan(0);
    expect(new Set(after.map((f) => f.phase))).toEqual(new Set(['after-reboot']));
    expect(after[0]).toEqual({
      fact: 'boot',
      bootCount: 2,
      replayed: afterCut.pending?.length,
      phase: 'after-reboot',
    });
    const replayed = after
      .filter((f) => f.fact === 'deliver' && f.replayed === true)
      .map((f) => `${f.seq} ${f.recipient}`);
    expect(replayed.sort()).toEqual(owed.sort());
    const firstNew = after.findIndex((f) => f.fact === 'emit');
    const lastReplayed = after
      .map((f) => f.fact === 'deliver' && f.replayed === true)
      .lastIndexOf(true);
    expect(firstNew).toBeGreaterThan(lastReplayed);
    expect(after.filter((f) => f.fact === 'emit')).toHaveLength(2);
    // at the end nothing is owed
    expect(end).toMatchObject({ fact: 'device', stage: 'end', bootCount: 2 });
    expect((end.pending ?? []).flatMap((event) => event.owed)).toEqual([]);
  });

  test('a damaged demo device is a JSON error; an argument is USAGE', () => {
    const cwd = join(dir, 'demo-damaged');
    mkdirSync(cwd);
    writeFileSync(join(cwd, 'nvrelay-demo.nvram'), 'not a device\n');
    expectJsonError(nvrelay(['demo', '--json'], cwd), 'NVRAM_TRUNCATED', 1);
    expect(expectJsonError(nvrelay(['demo', 'extra', '--json'], cwd), 'USAGE', 2)).toContain(
      'too many arguments',
    );
  });
});
