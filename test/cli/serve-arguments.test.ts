/**
 * `nvrelay serve` as a user runs it (the built CLI in a child process): the arguments it
 * refuses before touching the device, and a daemon on TCP only (--no-socket) that logs in text
 * and stops cleanly on SIGTERM.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const main = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-serve-args-'));

beforeAll(() => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run 'npm run build' first`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function serve(...args: string[]): { status: number | null; stderr: string } {
  const device = join(dir, 'refused.nvram');
  const result = spawnSync(process.execPath, [main, 'serve', device, ...args], {
    cwd: dir,
    encoding: 'utf8',
  });
  expect(existsSync(device)).toBe(false);
  return { status: result.status, stderr: result.stderr };
}

describe('nvrelay serve refuses', () => {
  test('an unknown log format: bad usage', () => {
    const result = serve('--log-format', 'xml');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("'xml' is not a log format (text or json)");
  });

  test('TLS options given in part, or without --listen', () => {
    const part = serve('--tls-cert', 'cert.pem');
    expect(part.status).toBe(1);
    expect(part.stderr).toBe(
      'nvrelay: TLS needs all of --tls-cert, --tls-key and --tls-ca (BAD_ARGUMENT)\n',
    );
    const noListen = serve('--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--tls-ca', 'ca.pem');
    expect(noListen.status).toBe(1);
    expect(noListen.stderr).toBe('nvrelay: the TLS options are for --listen (BAD_ARGUMENT)\n');
  });

  test('a TLS file that cannot be read, named with the reason', () => {
    const missing = join(dir, 'missing.pem');
    const result = serve(
      '--listen',
      '127.0.0.1:0',
      '--tls-cert',
      missing,
      '--tls-key',
      missing,
      '--tls-ca',
      missing,
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`^nvrelay: ${missing}: ENOENT.*\\(BAD_ARGUMENT\\)\\n$`),
    );
  });
});

describe('nvrelay serve --no-socket', () => {
  test('listens on TCP only, logs in text, and exits 0 on SIGTERM', async () => {
    const device = join(dir, 'tcp-only.nvram');
    const child = spawn(
      process.execPath,
      [main, 'serve', device, '--no-socket', '--listen', '127.0.0.1:0'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const deadline = Date.now() + 30_000;
    while (!/ INFO: listening /.test(out) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // the SIGTERM handler is installed once start() returns, just after the line
    await new Promise((resolve) => setTimeout(resolve, 300));
    child.kill('SIGTERM');
    expect(await exited, out).toBe(0);
    // text lines (pino-pretty): [time] LEVEL: message {fields as JSON}
    expect(out).toMatch(
      /^\[\S+Z\] INFO: started \{"device":"\S+tcp-only\.nvram","formatted":true,/m,
    );
    expect(out).toMatch(/ INFO: stopping \{"signal":"SIGTERM"\}/);
    expect(existsSync(join(dir, 'nvrelay.sock'))).toBe(false);
  });
});
