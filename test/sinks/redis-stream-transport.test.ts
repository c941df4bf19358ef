/**
 * The redis-stream transport on its own (src/sinks/redis-stream.ts): what each send resolves to
 * against redis-server processes this file starts on free loopback ports (replies of WAIT with
 * and without a replica, appendonly off, requireFsyncAlways off, RESP3 replies, a paused server,
 * a send racing close()), and against a scripted RESP server for the replies of CONFIG GET a
 * real server never gives (no reply value, a string, a list without the settings).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { RedisStreamTransport, type RedisStreamOptions } from '../../src/sinks/redis-stream.js';
import type { SinkEvent } from '../../src/sinks/sink.js';
import { freePort } from '../loopback.js';
import { redisBinary as binary, spawnRedis } from './redis-server.js';

const servers = new Set<ChildProcess>();
const clients = new Set<Redis>();
const transports = new Set<RedisStreamTransport>();
const fakes = new Set<Server>();
const dirs: string[] = [];

afterEach(async () => {
  for (const transport of transports) await transport.close();
  transports.clear();
  for (const redis of clients) redis.disconnect();
  clients.clear();
});
afterAll(async () => {
  for (const server of servers) server.kill('SIGKILL');
  for (const fake of fakes) {
    fake.close();
    (fake as Server & { sockets?: Set<Socket> }).sockets?.forEach((socket) => socket.destroy());
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** redis-server on 127.0.0.1 with its data in a temp dir; resolves with its port once it accepts connections. */
async function startRedis(settings: string[]): Promise<number> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'nvrelay-redis-'));
  dirs.push(dir);
  const child = await spawnRedis(['--port', String(port), '--dir', dir, ...settings]);
  servers.add(child);
  child.once('exit', () => servers.delete(child));
  return port;
}

const durable = ['--appendonly', 'yes', '--appendfsync', 'always'];

function admin(port: number): Redis {
  const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => {});
  clients.add(redis);
  return redis;
}

function transport(options: Partial<RedisStreamOptions> & { url: string }): RedisStreamTransport {
  const created = new RedisStreamTransport({
    stream: 'events',
    waitReplicas: 0,
    waitTimeoutMs: 100,
    requireFsyncAlways: true,
    timeoutMs: 2_000,
    ...options,
  });
  transports.add(created);
  return created;
}

function event(seq: number): SinkEvent {
  return {
    node: '00000000000000aa',
    seq,
    time: 1_700_000_000_000 + seq,
    level: 6,
    severity: 'info',
    source: 'app',
    type: 'app.event',
    details: new TextEncoder().encode(JSON.stringify({ seq })),
    replayed: false,
    attempt: 1,
    origin: [],
  };
}

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A server speaking just enough RESP for ioredis' handshake (HELLO refused, so RESP2; INFO says
 * not loading), answering CONFIG with `config`'s raw reply, or never if it is null; with
 * `resetOnXadd`, an XADD makes it reset the connection instead of answering.
 */
async function scriptedServer(
  config: string | null,
  resetOnXadd = false,
): Promise<{ url: string; commands: string[] }> {
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const parsed = parseCommand(pending);
        if (parsed === null) break;
        pending = pending.subarray(parsed.length);
        const name = parsed.args[0]!.toUpperCase();
        commands.push(name);
        if (name === 'HELLO') socket.write("-ERR unknown command 'HELLO'\r\n");
        else if (name === 'INFO') {
          const info = '# Server\r\nloading:0\r\n';
          socket.write(`$${info.length}\r\n${info}\r\n`);
        } else if (name === 'CONFIG') {
          if (config !== null) socket.write(config);
        } else if (name === 'XADD' && resetOnXadd) {
          socket.resetAndDestroy();
          return;
        } else socket.write('+OK\r\n');
      }
    });
  });
  (server as Server & { sockets?: Set<Socket> }).sockets = sockets;
  fakes.add(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`, commands };
}

/** One RESP array of bulk strings from the front of `bytes`, or null if it is not all there. */
function parseCommand(bytes: Buffer): { args: string[]; length: number } | null {
  let at = 0;
  const line = (): string | null => {
    const end = bytes.indexOf('\r\n', at);
    if (end < 0) return null;
    const text = bytes.subarray(at, end).toString();
    at = end + 2;
    return text;
  };
  const head = line();
  if (head === null) return null;
  const count = Number(head.slice(1));
  const args: string[] = [];
  for (let k = 0; k < count; k++) {
    const size = line();
    if (size === null) return null;
    const length = Number(size.slice(1));
    if (bytes.length < at + length + 2) return null;
    args.push(bytes.subarray(at, at + length).toString());
    at += length + 2;
  }
  return { args, length: at };
}

describe.skipIf(!existsSync(binary))('the redis-stream transport', () => {
  test('an empty batch resolves with no outcomes and opens no connection', async () => {
    const fake = await scriptedServer(null);
    const sink = transport({ url: fake.url });
    expect(await sink.send([])).toEqual([]);
    expect(fake.commands).toEqual([]);
  });

  test('a send after close() is a retry saying the sink is closed', async () => {
    const port = await startRedis(durable);
    const sink = transport({ url: `redis://127.0.0.1:${port}` });
    expect(await sink.send([event(1)])).toEqual([{ kind: 'held' }]);
    await sink.close();
    expect(await sink.send([event(2)])).toEqual([
      { kind: 'retry', reason: `redis at redis://127.0.0.1:${port}: closed` },
    ]);
    expect(await admin(port).xlen('events')).toBe(1);
  });

  test('a second send while the first is still connecting is a retry saying so', async () => {
    const port = await startRedis(durable);
    const sink = transport({ url: `redis://127.0.0.1:${port}` });
    const first = sink.send([event(1)]);
    const second = await sink.send([event(2)]);
    expect(second).toEqual([
      { kind: 'retry', reason: `redis at redis://127.0.0.1:${port}: not connected (connecting)` },
    ]);
    expect(await first).toEqual([{ kind: 'held' }]);
    expect(await admin(port).xlen('events')).toBe(1);
  });

  test('appendonly no: nothing is sent, the reason says what to change', async () => {
    const port = await startRedis(['--appendonly', 'no']);
    const sink = transport({ url: `redis://127.0.0.1:${port}` });
    expect(await sink.send([event(1), event(2)])).toEqual(
      Array(2).fill({
        kind: 'retry',
        reason: `redis at redis://127.0.0.1:${port} runs appendonly no: an acknowledged XADD is not on disk; set appendonly yes and appendfsync always, or requireFsyncAlways: false`,
      }),
    );
    expect(await admin(port).exists('events')).toBe(0);
  });

  test('requireFsyncAlways false: a server without appendonly takes the batch, CONFIG is never asked', async () => {
    const port = await startRedis(['--appendonly', 'no']);
    const watcher = admin(port);
    await watcher.config('RESETSTAT');
    const sink = transport({ url: `redis://127.0.0.1:${port}`, requireFsyncAlways: false });
    expect(await sink.send([event(1), event(2)])).toEqual([{ kind: 'held' }, { kind: 'held' }]);
    expect(await watcher.xlen('events')).toBe(2);
    const stats = await watcher.info('commandstats');
    expect(stats).not.toMatch(/cmdstat_config\|get/);
    expect(stats).toMatch(/cmdstat_xadd:calls=2/);
  });

  test('RESP3 replies (replyMapping=resp3): the settings are read from the map and the batch is held', async () => {
    const port = await startRedis(durable);
    const sink = transport({ url: `redis://127.0.0.1:${port}?replyMapping=resp3` });
    expect(await sink.send([event(1)])).toEqual([{ kind: 'held' }]);
    expect(await admin(port).xlen('events')).toBe(1);
  });

  test('waitReplicas 1 without a replica: the entries are written but the batch is a retry naming the shortfall', async () => {
    const port = await startRedis(durable);
    const sink = transport({
      url: `redis://127.0.0.1:${port}`,
      waitReplicas: 1,
      waitTimeoutMs: 50,
    });
    expect(await sink.send([event(1), event(2)])).toEqual(
      Array(2).fill({
        kind: 'retry',
        reason: `redis at redis://127.0.0.1:${port}: WAIT: 0 of 1 replicas acknowledged within 50 ms`,
      }),
    );
    expect(await admin(port).xlen('events')).toBe(2);
  });

  test('waitReplicas 1 with a replica attached: the batch is held once the replica acknowledged it', async () => {
    // no delay before the full sync a new replica starts with
    const port = await startRedis([...durable, '--repl-diskless-sync-delay', '0']);
    const replica = await startRedis(['--replicaof', '127.0.0.1', String(port)]);
    const primary = admin(port);
    const end = Date.now() + 10_000;
    while (!/slave0:.*state=online/.test(await primary.info('replication'))) {
      if (Date.now() > end) throw new Error('the replica never attached');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const sink = transport({
      url: `redis://127.0.0.1:${port}`,
      waitReplicas: 1,
      waitTimeoutMs: 5_000,
    });
    expect(await sink.send([event(1), event(2)])).toEqual([{ kind: 'held' }, { kind: 'held' }]);
    expect(await admin(replica).xlen('events')).toBe(2);
  });

  test('a user denied WAIT: each XADD is written but every event is a retry with the NOPERM reason', async () => {
    const port = await startRedis(durable);
    await admin(port).call('ACL', 'SETUSER', 'writer', 'on', '>pw', '~*', '+@all', '-wait');
    const sink = transport({ url: `redis://writer:pw@127.0.0.1:${port}`, waitReplicas: 1 });
    const sent = await sink.send([event(1), event(2)]);
    expect(sent).toHaveLength(2);
    for (const outcome of sent) {
      expect(outcome.kind).toBe('retry');
      expect(outcome.kind === 'retry' && outcome.reason).toMatch(
        new RegExp(`^redis at redis://writer:\\*\\*\\*@127\\.0\\.0\\.1:${port}: NOPERM.*wait`),
      );
    }
    expect(await admin(port).xlen('events')).toBe(2);
  });

  test('a paused server: the XADD times out and the send is a retry saying so', async () => {
    const port = await startRedis(durable);
    const sink = transport({ url: `redis://127.0.0.1:${port}`, timeoutMs: 300 });
    // connect first: the handshake itself must not be the command that waits
    expect(await sink.send([event(1)])).toEqual([{ kind: 'held' }]);
    const control = admin(port);
    await control.call('CLIENT', 'PAUSE', '2000', 'ALL');
    // the check passed on this connection less than 30 s ago: the batch goes without one,
    // and it is the XADD that waits out the pause
    expect(await sink.send([event(2)])).toEqual([
      { kind: 'retry', reason: `redis at redis://127.0.0.1:${port}: Command timed out` },
    ]);
  });

  test('a send racing close(): the pipeline finds the connection ending and is a retry, not connected', async () => {
    const port = await startRedis(durable);
    const sink = transport({ url: `redis://127.0.0.1:${port}`, requireFsyncAlways: false });
    expect(await sink.send([event(1)])).toEqual([{ kind: 'held' }]);
    const racing = sink.send([event(2)]);
    await sink.close();
    expect(await racing).toEqual([
      { kind: 'retry', reason: `redis at redis://127.0.0.1:${port}: not connected` },
    ]);
    expect(await admin(port).xlen('events')).toBe(1);
  });

  test('close() while CONFIG GET is unanswered: the send is a retry, the connection closed', async () => {
    const fake = await scriptedServer(null);
    const sink = transport({ url: fake.url });
    const sent = sink.send([event(1)]);
    await until(() => fake.commands.includes('CONFIG'), 5_000, 'CONFIG GET');
    await sink.close();
    expect(await sent).toEqual([
      { kind: 'retry', reason: `redis at ${fake.url}: Connection is closed.` },
    ]);
    expect(fake.commands).not.toContain('XADD');
  });

  test('the connection reset under a batch: a retry saying it dropped before the replies, and why', async () => {
    const fake = await scriptedServer(null, true);
    const sink = transport({ url: fake.url, requireFsyncAlways: false });
    expect(await sink.send([event(1), event(2)])).toEqual(
      Array(2).fill({
        kind: 'retry',
        reason: `redis at ${fake.url}: the connection dropped before the replies (ECONNRESET: read ECONNRESET)`,
      }),
    );
    expect(fake.commands.filter((name) => name === 'XADD')).toHaveLength(1);
  });

  test.each([
    ['no value', '$-1\r\n', 'appendonly (unknown)'],
    ['a string', '+OK\r\n', 'appendonly (unknown)'],
    [
      'a list without appendonly',
      '*2\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n',
      'appendonly (unknown)',
    ],
  ])(
    'CONFIG GET answered with %s: the send is a retry, the server said to run %s',
    async (_, reply, runs) => {
      const fake = await scriptedServer(reply);
      const sink = transport({ url: fake.url });
      expect(await sink.send([event(1)])).toEqual([
        {
          kind: 'retry',
          reason: `redis at ${fake.url} runs ${runs}: an acknowledged XADD is not on disk; set appendonly yes and appendfsync always, or requireFsyncAlways: false`,
        },
      ]);
      expect(fake.commands).not.toContain('XADD');
    },
  );

  test('CONFIG GET without appendfsync: the send is a retry, appendfsync unknown', async () => {
    const fake = await scriptedServer('*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n');
    const sink = transport({ url: fake.url });
    expect(await sink.send([event(1)])).toEqual([
      {
        kind: 'retry',
        reason: `redis at ${fake.url} runs appendfsync (unknown): an acknowledged XADD could be lost; set appendfsync always, or requireFsyncAlways: false`,
      },
    ]);
  });

  test('the target hides the password of the URL', () => {
    expect(transport({ url: 'redis://user:secret@127.0.0.1:1' }).target).toBe(
      'redis://user:***@127.0.0.1:1 events',
    );
    expect(transport({ url: 'redis://127.0.0.1:1/2' }).target).toBe('redis://127.0.0.1:1/2 events');
  });

  test('a URL the parser refuses fails at construction, its message without the password', () => {
    let thrown: unknown = null;
    try {
      transport({ url: 'redis://user:secret@127.0.0.1:port' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as NodeJS.ErrnoException).code).toBe('ERR_INVALID_URL');
    expect((thrown as Error).message).not.toMatch(/secret/);
  });
});
