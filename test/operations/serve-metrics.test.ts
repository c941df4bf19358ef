/**
 * `nvrelay serve --metrics [host:]port` (the built CLI, dist/cli/main.js: `npm run build`): the
 * endpoint comes up on loopback with the daemon, its port in the 'operations endpoint' log line,
 * and goes with it on SIGTERM; a malformed address is a usage error. The address parser itself:
 * a bare port is loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { isLoopback, parseOperationsAddress } from '../../src/operations/address.js';
import { cliMain } from '../daemon/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-serve-metrics-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  lines: string[];
  stderr: string[];
  exited: Promise<number | null>;
}

function run(args: string[]): Run {
  const child = spawn(process.execPath, [cliMain, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const lines: string[] = [];
  const stderr: string[] = [];
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { child, lines, stderr, exited };
}

async function line(running: Run, msg: string): Promise<Record<string, unknown>> {
  const end = Date.now() + 10_000;
  for (;;) {
    for (const text of running.lines) {
      if (!text.startsWith('{')) continue;
      const parsed = JSON.parse(text) as Record<string, unknown>;
      if (parsed['msg'] === msg) return parsed;
    }
    if (Date.now() > end)
      throw new Error(`no '${msg}' line: ${running.lines.join('\n')} ${running.stderr.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('nvrelay serve --metrics', () => {
  test('a bare port: the endpoint on loopback, with the daemon, gone with it', async () => {
    const device = join(dir, 'd.nvram');
    const daemon = run([
      'serve',
      device,
      '--socket',
      join(dir, 'd.sock'),
      '--metrics',
      '0',
      '--log-format',
      'json',
    ]);
    const logged = await line(daemon, 'operations endpoint');
    const address = logged['address'] as { address: string; port: number };
    expect(address.address).toBe('127.0.0.1');
    expect(address.port).toBeGreaterThan(0);
    const url = `http://127.0.0.1:${address.port}`;
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^nvrelay_node_running 1$/m);
    expect(metrics).toMatch(/^nvrelay_node_info\{node="[0-9a-f]{16}",durability="process"\} 1$/m);
    const status = (await (await fetch(`${url}/status.json`)).json()) as {
      device: { path: string };
    };
    expect(status.device.path).toBe(device);
    expect(daemon.lines.some((text) => text.includes('beyond loopback'))).toBe(false);

    daemon.child.kill('SIGTERM');
    expect(await daemon.exited).toBe(0);
    await expect(fetch(`${url}/metrics`)).rejects.toThrow();
  });

  test('a malformed address is a usage error', async () => {
    const daemon = run(['serve', join(dir, 'e.nvram'), '--metrics', 'localhost:99999']);
    expect(await daemon.exited).toBe(2);
    expect(daemon.stderr.join('')).toContain('[HOST:]PORT');
  });

  test('the address: a bare port is loopback; a host and an IPv6 host in brackets', () => {
    expect(parseOperationsAddress('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseOperationsAddress('0.0.0.0:9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseOperationsAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseOperationsAddress('metrics.local:80')).toEqual({ host: 'metrics.local', port: 80 });
    for (const bad of ['', 'x', ':80', '65536', 'host:', '::1:80', 'a b:80'])
      expect(() => parseOperationsAddress(bad), bad).toThrow('[HOST:]PORT');
    for (const host of [
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      '::ffff:127.0.0.1',
      'localhost',
      'a.localhost',
    ])
      expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '10.0.0.1', '::', '::ffff:10.0.0.1', 'example.com', '128.0.0.1'])
      expect(isLoopback(host), host).toBe(false);
  });
});
