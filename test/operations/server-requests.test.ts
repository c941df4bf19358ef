/**
 * Requests the operations endpoint (src/operations/server.ts) gets from something other than a
 * browser or Prometheus, written byte by byte on a loopback socket: an HTTP/1.0 request without
 * a Host header, a request target the URL parser refuses (answered 400), and a failure while
 * answering (500, logged); the endpoint still serving after each.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { parseConfig } from '../../src/daemon/config.js';
import { Daemon } from '../../src/daemon/daemon.js';

const logs: Record<string, unknown>[] = [];
let dir = '';
let daemon: Daemon;
let port = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nvrelay-operations-'));
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n'))
        if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  daemon = await Daemon.start({
    device: join(dir, 'd.nvram'),
    durability: 'process',
    config: parseConfig({}),
    log: pino({ level: 'info' }, sink),
    socket: join(dir, 'd.sock'),
    operations: { host: '127.0.0.1', port: 0 },
  });
  port = daemon.operations!.port;
});

afterAll(async () => {
  await daemon.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `request` as it is and resolves with the whole answer once the server closes. */
function raw(request: string): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      const end = answer.indexOf('\r\n\r\n');
      resolve({
        status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0),
        head: answer.slice(0, end),
        body: answer.slice(end + 4),
      });
    });
  });
}

describe('the operations endpoint', () => {
  test('an HTTP/1.0 request without a Host header is answered: no name was looked up to reach it', async () => {
    const answer = await raw('GET /status.json HTTP/1.0\r\n\r\n');
    expect(answer.status).toBe(200);
    expect(answer.head).toMatch(/content-type: application\/json; charset=utf-8/i);
    const status = JSON.parse(answer.body) as { device: { path: string } };
    expect(status.device.path).toBe(join(dir, 'd.nvram'));
  });

  test('a request target the URL parser refuses: 400, and the endpoint goes on serving', async () => {
    const answer = await raw(
      'GET http://[ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(answer.status).toBe(400);
    expect(answer.body).toBe('bad request target\n');
    expect(logs.filter((entry) => entry['level'] === 50)).toEqual([]);
    const next = await raw('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    expect(next.status).toBe(200);
    expect(next.body).toMatch(/^nvrelay_node_running 1$/m);
  });

  test('a failure while answering: 500, logged with the target, and the endpoint goes on serving', async () => {
    vi.spyOn(daemon.node, 'stats').mockImplementationOnce(() => {
      throw new Error('the node could not be read');
    });
    const answer = await raw(
      'GET /status.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(answer.status).toBe(500);
    expect(answer.body).toBe('error\n');
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 50,
        msg: 'operations endpoint: request failed',
        url: '/status.json',
      }),
    );
    const next = await raw(
      'GET /status.json HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(next.status).toBe(200);
  });
});
