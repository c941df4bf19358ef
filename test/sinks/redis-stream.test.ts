/**
 * The redis-stream sink inside a daemon (src/sinks/redis-stream.ts), against redis-server
 * processes this file starts on free loopback ports, each with its data in a temp dir:
 * - appendfsync always, the server SIGKILLed mid-run and restarted on the same dir and port:
 *   every event ends up in the stream, once, or twice only if it was sent around the kill;
 * - appendfsync everysec with requireFsyncAlways: nothing is sent, the sink is down saying why,
 *   until CONFIG SET appendfsync always at runtime;
 * - a key of the wrong type, and a user without CONFIG: the sink is down with the server's
 *   error, nothing is dead-lettered, and the events arrive once the operator fixes it.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { startDaemon, type TestDaemon } from '../daemon/harness.js';
import { freePort } from '../loopback.js';
import { redisBinary as binary, spawnRedis } from './redis-server.js';

const servers = new Set<ChildProcess>();
const clients = new Set<Redis>();
const dirs: string[] = [];
let running: TestDaemon | null = null;

afterEach(async () => {
  await running?.remove();
  running = null;
  for (const client of clients) client.disconnect();
  clients.clear();
});
afterAll(() => {
  for (const server of servers) server.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** redis-server on 127.0.0.1:port with its data in dir; resolves once it accepts connections. */
async function startRedis(port: number, dir: string, fsync: 'always' | 'everysec') {
  const child = await spawnRedis([
    '--port',
    String(port),
    '--appendonly',
    'yes',
    '--appendfsync',
    fsync,
    '--dir',
    dir,
  ]);
  servers.add(child);
  child.once('exit', () => servers.delete(child));
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

function client(port: number): Redis {
  const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  clients.add(redis);
  return redis;
}

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Entry {
  id: string;
  fields: Record<string, string>;
}

async function entries(redis: Redis, stream: string): Promise<Entry[]> {
  const reply = await redis.xrange(stream, '-', '+');
  return reply.map(([id, flat]) => {
    const fields: Record<string, string> = {};
    for (let k = 0; k + 1 < flat.length; k += 2) fields[flat[k] as string] = flat[k + 1] as string;
    return { id, fields };
  });
}

async function daemonWithSink(port: number, sink: Record<string, unknown>): Promise<TestDaemon> {
  running = await startDaemon({
    config: {
      sinks: {
        rs: {
          kind: 'redis-stream',
          url: `redis://127.0.0.1:${port}`,
          stream: 'events',
          timeoutMs: 500,
          retry: { timeoutMs: 100, timeoutMaxMs: 500, attemptsMax: 1000 },
          ...sink,
        },
      },
    },
  });
  return running;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nvrelay-redis-'));
  dirs.push(dir);
  return dir;
}

describe.skipIf(!existsSync(binary))('the redis-stream sink', () => {
  test('redis-server killed mid-run and restarted: every event in the stream, repeats only around the kill', async () => {
    const port = await freePort();
    const dir = tempDir();
    let server = await startRedis(port, dir, 'always');
    const { daemon } = await daemonWithSink(port, { batchMax: 16 });
    const sink = daemon.sinks[0]!;
    const producer = daemon.node.producer('disk');
    const total = 400;
    const seqs: number[] = [];
    let killedAt = 0;
    let restartedAt = 0;
    const errors = new Set<string>();
    const watch = setInterval(() => {
      if (sink.lastError !== null) errors.add(sink.lastError);
    }, 2);
    const emit = (): void => {
      seqs.push(producer.emitJson('disk.failed', 'err', { k: seqs.length }));
    };
    // bursts of 10 events, the server killed after 150, restarted after 250
    for (let burst = 0; burst < total / 10; burst++) {
      for (let k = 0; k < 10; k++) emit();
      if (seqs.length === 150) {
        await until(() => sink.recipient.confirmed >= 100, 5_000, 'the first events confirmed');
        emit();
        // one turn: the sink's batch is on its way to the server (or just answered) when it dies
        await new Promise((resolve) => setImmediate(resolve));
        killedAt = Date.now();
        await kill(server);
      } else if (seqs.length >= 250 && restartedAt === 0) {
        await sleep(200); // sends fail while it is down
        server = await startRedis(port, dir, 'always');
        restartedAt = Date.now();
      } else await sleep(5);
    }
    await until(() => sink.recipient.confirmed === seqs.length, 15_000, 'every event confirmed');
    clearInterval(watch);
    expect(sink.state).toBe('up');
    expect(sink.counters.retried).toBeGreaterThan(0); // the outage was seen
    // the reasons say what happened to the connection, in the sink's words
    expect(errors.size).toBeGreaterThan(0);
    for (const error of errors)
      expect(error).toMatch(
        new RegExp(
          `^redis at redis://127\\.0\\.0\\.1:${port}: (not connected|the connection dropped)`,
        ),
      );
    expect(daemon.node.deadLetterList()).toHaveLength(0);

    const found = await entries(client(port), 'events');
    const bySeq = new Map<number, Entry[]>();
    for (const entry of found) {
      const seq = Number(entry.fields['seq']);
      bySeq.set(seq, [...(bySeq.get(seq) ?? []), entry]);
    }
    expect([...bySeq.keys()].sort((a, b) => a - b)).toEqual(seqs);
    const repeats = [...bySeq].filter(([, copies]) => copies.length > 1);
    console.log(
      `redis-stream: ${found.length} entries for ${seqs.length} events; ${repeats.length} repeated: ` +
        repeats.map(([seq, copies]) => `${seq}x${copies.length}`).join(' '),
    );
    // a repeat is a batch whose replies died with the server: at most one batch, its first
    // copy written before the kill, its second after the restart (entry ids are server ms)
    expect(repeats.length).toBeLessThanOrEqual(16);
    for (const [, copies] of repeats) {
      expect(copies).toHaveLength(2);
      expect(Number(copies[0]!.id.split('-')[0])).toBeLessThanOrEqual(killedAt + 50);
      expect(Number(copies[1]!.id.split('-')[0])).toBeGreaterThanOrEqual(restartedAt - 1_000);
    }
    // the fields of every entry
    const nodeId = daemon.device.header.deviceId.toString(16).padStart(16, '0');
    for (const [seq, [entry]] of bySeq) {
      const fields = entry!.fields;
      expect(fields).toMatchObject({
        node: nodeId,
        seq: String(seq),
        severity: 'err',
        source: 'disk',
        type: 'disk.failed',
      });
      const event = JSON.parse(fields['event']!) as Record<string, unknown>;
      expect(event).toMatchObject({ node: nodeId, seq, type: 'disk.failed', source: 'disk' });
      expect(event['time']).toBe(new Date(Number(fields['time'])).toISOString());
      expect(event['details']).toEqual({ k: seqs.indexOf(seq) });
    }
  });

  test('appendfsync everysec: nothing is sent, the sink says why, until CONFIG SET appendfsync always', async () => {
    const port = await freePort();
    await startRedis(port, tempDir(), 'everysec');
    const { daemon } = await daemonWithSink(port, { maxlen: 1000 });
    const sink = daemon.sinks[0]!;
    const producer = daemon.node.producer('app');
    for (let k = 0; k < 20; k++) producer.emitJson('app.event', 'info', { k });
    await until(
      () => sink.state === 'down' && sink.recipient.redelivered >= 20,
      5_000,
      'the sink down, the events retried',
    );
    expect(sink.recipient.confirmed).toBe(0);
    expect(sink.lastError).toBe(
      `redis at redis://127.0.0.1:${port} runs appendfsync everysec: an acknowledged XADD could be lost; set appendfsync always, or requireFsyncAlways: false`,
    );
    const admin = client(port);
    expect(await admin.exists('events')).toBe(0); // checked before any XADD
    await admin.config('SET', 'appendfsync', 'always');
    await until(() => sink.recipient.confirmed === 20, 5_000, 'the events after the fix');
    expect(sink.state).toBe('up');
    expect(await admin.xlen('events')).toBe(20);
  });

  test('a key of the wrong type, and a user without CONFIG: down with the reason, nothing dead-lettered', async () => {
    const port = await freePort();
    await startRedis(port, tempDir(), 'always');
    const admin = client(port);
    await admin.set('events', 'not a stream');
    await admin.call('ACL', 'SETUSER', 'writer', 'on', '>secret-pw', '~*', '+@all', '-config');
    const { daemon } = await daemonWithSink(port, {
      url: `redis://writer:secret-pw@127.0.0.1:${port}`,
    });
    const sink = daemon.sinks[0]!;
    expect(sink.status().target).toBe(`redis://writer:***@127.0.0.1:${port} events`);
    daemon.node.producer('app').emitJson('app.event', 'info', { k: 0 });
    await until(() => sink.state === 'down', 5_000, 'down: no CONFIG');
    expect(sink.lastError).toMatch(/refused CONFIG GET \(NOPERM/);
    expect(sink.lastError).not.toMatch(/secret-pw/);
    await admin.call('ACL', 'SETUSER', 'writer', '+config|get');
    await until(() => /WRONGTYPE/.test(sink.lastError ?? ''), 5_000, 'WRONGTYPE');
    expect(sink.state).toBe('down');
    expect(daemon.node.deadLetterList()).toHaveLength(0);
    await admin.del('events');
    await until(() => sink.recipient.confirmed === 1, 5_000, 'the event after the fix');
    expect(await admin.xlen('events')).toBe(1);
  });
});
