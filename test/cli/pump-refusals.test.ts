/**
 * `nvrelay pump` on a device formatted with its own limits, run as a user runs it (the built
 * CLI in a child process; `npm run build` first): a payload or a recipient count over the
 * device's limits is refused before the boot and leaves the file as it was; a small runtime
 * FIFO makes the pump wait for room; SIGTERM stops emitting and reports `interrupted`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-pump-refusals-'));

beforeAll(() => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run 'npm run build' first`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function nvrelay(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [main, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 20_000,
  });
}

let devices = 0;
/** A node device made by `nvrelay init` with these limits. */
function device(...limits: string[]): string {
  const path = join(dir, `pump-${devices++}.nvram`);
  expect(nvrelay('init', path, '--size', '1M', ...limits).status).toBe(0);
  return path;
}

function jsonError(run: { status: number | null; stdout: string }): {
  code: string;
  message: string;
} {
  expect(run.status).toBe(1);
  return (JSON.parse(run.stdout) as { error: { code: string; message: string } }).error;
}

describe('nvrelay pump against the limits a device was formatted with', () => {
  test('--payload-bytes over the details limit: EVENT_TOO_LARGE, the file unchanged', () => {
    const path = device('--details-bytes-max', '32');
    const before = readFileSync(path);
    const error = jsonError(
      nvrelay('pump', path, '--count', '1', '--payload-bytes', '33', '--json'),
    );
    expect(error.code).toBe('EVENT_TOO_LARGE');
    expect(error.message).toContain('--payload-bytes 33 is over the 32-byte details limit');
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test('--recipients over the recipient limit: RECIPIENTS_FULL, the file unchanged', () => {
    const path = device('--recipients-max', '2');
    const before = readFileSync(path);
    const error = jsonError(
      nvrelay('pump', path, '--count', '1', '--payload-bytes', '8', '--recipients', '3', '--json'),
    );
    expect(error.code).toBe('RECIPIENTS_FULL');
    expect(error.message).toContain('--recipients 3 is over the 2 recipients');
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test('a runtime FIFO smaller than the count: the pump waits for room and emits them all', () => {
    const path = device('--runtime-slots', '4');
    const run = nvrelay(
      'pump',
      path,
      '--count',
      '200',
      '--payload-bytes',
      '8',
      '--recipients',
      '2',
      '--json',
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const summary = JSON.parse(run.stdout) as Record<string, number>;
    expect(summary['emitted']).toBe(200);
    expect(summary['queueFullWaits']).toBeGreaterThan(0);
    expect(summary['confirmed']).toBe(400);
    expect(summary['retired']).toBe(200);
  });
});

describe('nvrelay pump stopped by a signal', () => {
  test('SIGTERM stops the emits, the Q line says interrupted, exit 143', async () => {
    const path = join(dir, 'signalled.nvram');
    const child = spawn(
      process.execPath,
      [main, 'pump', path, '--count', '100000000', '--payload-bytes', '8'],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      if (stdout === '' && text.startsWith('A ')) child.kill('SIGTERM'); // once it emits
      stdout += text;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    expect(stderr).toBe('');
    expect(status).toBe(143);
    const lines = stdout.trimEnd().split('\n');
    const q = lines.at(-1) ?? '';
    expect(q.startsWith('Q ')).toBe(true);
    const summary = JSON.parse(q.slice(2)) as Record<string, unknown>;
    expect(summary['interrupted']).toBe('SIGTERM');
    expect(summary['emitted']).toBe(lines.filter((line) => line.startsWith('A ')).length);
    expect(summary['emitted'] as number).toBeLessThan(100_000_000);
    expect(summary['confirmed']).toBe(summary['emitted']);
  });

  test('a second signal while the pump drains ends it at once: no Q line, exit 128 + the number of the signal handled second', async () => {
    const path = join(dir, 'signalled-twice.nvram');
    const child = spawn(
      process.execPath,
      [main, 'pump', path, '--count', '100000000', '--payload-bytes', '8'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      if (stdout === '' && text.startsWith('A ')) {
        child.kill('SIGTERM');
        child.kill('SIGINT'); // a different signal: never merged with the first
      }
      stdout += text;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(timer);
    // whichever of the two is handled second ends it: 128 + SIGTERM's or SIGINT's number
    expect([128 + 15, 128 + 2]).toContain(status);
    expect(stdout).toMatch(/^A \d+\n/);
    expect(stdout).not.toMatch(/^Q /m);
  });
});
