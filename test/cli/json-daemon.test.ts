/**
 * --json on the commands that speak to a daemon, run as a user runs them (the built CLI in a
 * child process; `npm run build` first): `emit` and `tail` against a daemon in this process,
 * `serve` as a process of its own. `emit` and `tail` print JSON Lines, one acknowledged event or
 * delivery a line; `serve` logs JSON lines; an error is `{"error":{"code","message"}}` on stdout.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connect } from '../../src/client/client.js';
import { cliMain, startDaemon, type TestDaemon } from '../daemon/harness.js';
import { runCli, type CliRun } from './processes.js';

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-json-daemon-'));
let daemon: TestDaemon;

beforeAll(async () => {
  if (!existsSync(cliMain)) throw new Error(`${cliMain} is missing: run 'npm run build' first`);
  daemon = await startDaemon({
    config: {
      strictRecipients: true,
      recipients: { shelf: { prefixes: ['shelf.'] }, pager: { prefixes: ['pager.'] } },
    },
  });
});
afterAll(async () => {
  await daemon.remove();
  rmSync(dir, { recursive: true, force: true });
});

type Run = CliRun;

const nvrelay = (args: string[], timeoutMs = 20_000): Promise<Run> =>
  runCli(args, { timeoutMs, cwd: dir });

function jsonLines(stdout: string): Record<string, unknown>[] {
  expect(stdout.endsWith('\n'), 'stdout ends with a newline').toBe(true);
  return stdout
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function expectJsonError(run: Run, code: string, status: number): string {
  expect(run.stderr).toBe('');
  expect(run.signal).toBe(null);
  expect(run.status).toBe(status);
  const lines = jsonLines(run.stdout);
  expect(lines).toEqual([{ error: { code, message: expect.any(String) } }]);
  return (lines[0] as { error: { message: string } }).error.message;
}

describe('nvrelay emit --json', () => {
  test('one JSON object per acknowledged event: {seq, source, type, severity}', async () => {
    const run = await nvrelay([
      'emit',
      ...['--socket', daemon.socket, '--type', 'disk.failed', '--severity', '3'],
      ...['--details', 'slot 4', '--count', '3', '--source', 'raid', '--json'],
    ]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = jsonLines(run.stdout);
    expect(lines).toHaveLength(3);
    const seqs = lines.map((line) => line['seq'] as number);
    expect(new Set(seqs).size).toBe(3);
    for (const seq of seqs) expect(Number.isSafeInteger(seq) && seq > 0).toBe(true);
    expect(lines).toEqual(
      seqs.map((seq) => ({ seq, source: 'raid', type: 'disk.failed', severity: 'err' })),
    );
  });

  test('without --json the lines stay `A <seq>`', async () => {
    const run = await nvrelay([
      'emit',
      ...['--socket', daemon.socket, '--type', 'net.down', '--severity', 'info', '--count', '2'],
    ]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^A \d+\nA \d+\n$/);
  });

  test('bad input: the typed error as one JSON line, exit 1; bad usage exit 2', async () => {
    const emit = (...args: string[]) =>
      nvrelay(['emit', '--socket', daemon.socket, '--severity', 'err', ...args, '--json']);
    expect(expectJsonError(await emit('--type', 'Bad Type'), 'BAD_ARGUMENT', 1)).toContain(
      'Bad Type',
    );
    // a name refused before anything is sent: the command ends (it used to wait forever)
    expect(
      expectJsonError(await emit('--type', 'x.y', '--source', 'bad name'), 'BAD_ARGUMENT', 1),
    ).toContain('bad name');
    expect(
      expectJsonError(
        await emit('--type', 'x.y', '--details', 'x'.repeat(1000)),
        'EVENT_TOO_LARGE',
        1,
      ),
    ).toContain('1000 bytes');
    expectJsonError(
      await nvrelay([
        'emit',
        '--socket',
        'tcp://nohost',
        '--type',
        'x.y',
        '--severity',
        'err',
        '--json',
      ]),
      'BAD_ARGUMENT',
      1,
    );
    expect(
      expectJsonError(await emit('--type', 'x.y', '--severity', 'bogus'), 'USAGE', 2),
    ).toContain('bogus');
    expect(
      expectJsonError(await nvrelay(['emit', '--severity', 'err', '--json']), 'USAGE', 2),
    ).toContain('--type');
  });
});

describe('nvrelay tail --json', () => {
  test('one JSON object per delivery: the whole event, details as text or hex', async () => {
    const client = await connect(`unix:${daemon.socket}`);
    const producer = client.producer('shelf-1');
    const sent = [
      { type: 'shelf.disk.failed', severity: 'crit', details: 'slot 4' },
      { type: 'other.event', severity: 'err', details: 'not for shelf' },
      { type: 'shelf.disk.rebuild', severity: 'notice', details: Uint8Array.of(0xff, 0x00, 0x80) },
      { type: 'shelf.fan.slow', severity: 'warning', details: null },
    ] as const;
    const seqs: number[] = [];
    for (const event of sent)
      seqs.push(await producer.emit(event.type, event.severity, event.details));
    client.close();
    const emitted = Date.now();
    const run = await nvrelay([
      'tail',
      '--socket',
      daemon.socket,
      '--name',
      'shelf',
      '--count',
      '3',
      '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = jsonLines(run.stdout);
    // 'shelf' takes shelf.* only: three events, in seq order, then the command ends
    expect(lines.map((line) => line['seq'])).toEqual([seqs[0], seqs[2], seqs[3]]);
    expect(lines[0]).toEqual({
      recipient: 'shelf',
      seq: seqs[0],
      time: expect.any(String),
      timeMs: expect.any(Number),
      severity: 'crit',
      source: 'shelf-1',
      type: 'shelf.disk.failed',
      details: 'slot 4',
      detailsHex: null,
      attempt: 1,
      originalSeq: 0,
      origin: [],
    });
    expect(lines[1]).toMatchObject({
      type: 'shelf.disk.rebuild',
      severity: 'notice',
      details: null,
      detailsHex: 'ff0080',
    });
    // empty details are the empty text
    expect(lines[2]).toMatchObject({ type: 'shelf.fan.slow', details: '', detailsHex: null });
    for (const line of lines) {
      expect(new Date(line['time'] as string).getTime()).toBe(line['timeMs']);
      expect(line['timeMs'] as number).toBeLessThanOrEqual(emitted);
      expect(line['timeMs'] as number).toBeGreaterThan(emitted - 60_000);
    }
  });

  test('without --json the lines stay `D <name> <seq> <type>`', async () => {
    const client = await connect(`unix:${daemon.socket}`);
    const seq = await client.producer('shelf-2').emit('pager.call', 'info', 'slot 9');
    client.close();
    const run = await nvrelay([
      'tail',
      '--socket',
      daemon.socket,
      '--name',
      'pager',
      '--count',
      '1',
    ]);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`D pager ${seq} pager.call\n`);
  });

  test('bad input: the typed error as one JSON line, exit 1; bad usage exit 2', async () => {
    const tail = (...args: string[]) =>
      nvrelay(['tail', '--socket', daemon.socket, ...args, '--json']);
    expect(expectJsonError(await tail('--name', 'bad name'), 'BAD_ARGUMENT', 1)).toContain(
      'bad name',
    );
    // the daemon declares its recipients (strictRecipients): another name is refused
    expect(expectJsonError(await tail('--name', 'stranger'), 'RECIPIENT_UNKNOWN', 1)).toContain(
      'stranger',
    );
    expect(expectJsonError(await tail('--name', 'shelf', '--count', '0'), 'USAGE', 2)).toContain(
      '--count',
    );
    expect(expectJsonError(await tail(), 'USAGE', 2)).toContain('--name');
  });
});

describe('nvrelay serve --json', () => {
  test('logs one JSON object per line, from started to stopped; exit 0 on SIGTERM', async () => {
    const device = join(dir, 'serve.nvram');
    const socket = join(dir, 'serve.sock');
    const child = spawn(
      process.execPath,
      [cliMain, 'serve', device, '--socket', socket, '--json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const deadline = Date.now() + 20_000;
      while (!stdout.includes('"listening"') && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      const emit = await nvrelay([
        'emit',
        '--socket',
        socket,
        '--type',
        'x.y',
        '--severity',
        'err',
      ]);
      expect(emit.status, emit.stderr).toBe(0);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    const lines = jsonLines(stdout);
    const messages = lines.map((line) => line['msg']);
    expect(messages.slice(0, 2)).toEqual(['started', 'listening']);
    expect(messages.slice(-2)).toEqual(['stopping', 'stopped']);
    expect(lines[0]).toMatchObject({ level: 30, device, formatted: true, pid: child.pid });
    expect(lines[1]).toMatchObject({ socket });
    for (const line of lines) expect(typeof line['time']).toBe('number');
  });

  test('an error that stops it is JSON on stdout; the device is not created', async () => {
    const device = join(dir, 'never.nvram');
    const serve = (...args: string[]) => nvrelay(['serve', device, ...args, '--json']);
    expect(
      expectJsonError(await serve('--config', join(dir, 'absent.json')), 'BAD_ARGUMENT', 1),
    ).toContain('absent.json');
    const config = join(dir, 'bad.json');
    writeFileSync(config, '{"inFlightMax": 0}');
    expect(expectJsonError(await serve('--config', config), 'BAD_ARGUMENT', 1)).toContain(
      'inFlightMax',
    );
    expect(
      expectJsonError(await serve('--no-socket', '--listen', '10.1.2.3:7411'), 'BAD_ARGUMENT', 1),
    ).toContain('loopback');
    expect(existsSync(device)).toBe(false);
    const garbage = join(dir, 'garbage.nvram');
    writeFileSync(garbage, 'not a device\n');
    expectJsonError(
      await nvrelay(['serve', garbage, '--socket', join(dir, 'g.sock'), '--json']),
      'NVRAM_TRUNCATED',
      1,
    );
    expect(expectJsonError(await serve('--log-format', 'xml'), 'USAGE', 2)).toContain('xml');
    expect(expectJsonError(await nvrelay(['serve', '--json']), 'USAGE', 2)).toContain('device');
  });
});
