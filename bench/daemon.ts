/**
 * The daemon's figures (`nvrelay serve`), beside real servers doing the same work:
 *  - emit-deliver-confirm over the Unix socket: one daemon in a child process (`node
 *    dist/cli/main.js serve`), the producers and one remote recipient confirming everything in
 *    this process on two connections of their own; 1 producer, and 64 producers (64 producer
 *    names on one connection, each awaiting its emit); `process` and `power` durability;
 *    events/s over bounded windows (at most N events, at most a time cap) and, for 1 producer,
 *    the emit p50 (emit to ack, i.e. durable);
 *  - the same work on Redis Streams (XADD; XREADGROUP, XACK) with `appendfsync everysec` and
 *    `appendfsync always`, over a Unix socket, and on NATS JetStream (file storage, publish
 *    with ack, a durable pull consumer with explicit ack) over loopback TCP (nats-server has no
 *    Unix socket). Each server is started here from its binary, its data in a temp dir, and
 *    stopped at the end; a missing binary (or peer client) skips its rows and says why;
 *  - one msync of one dirty page (as bench/events.ts measures it) and one loopback round trip
 *    (a tiny ping-pong over a Unix socket with a child process), the floor of a durable remote
 *    emit.
 * The peer clients (ioredis, nats) come from bench/peers (its own lock; never the root install).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect as netConnect } from 'node:net';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type Client } from '../src/client/client.js';
import type { BenchContext, BenchResult, BenchSuite } from './run.js';
import { msyncLatency, percentiles, type Latency } from './events.js';

export const detailsBytes = 128;
export const eventType = 'bench.event';
/** Concurrent producers of the many-producer rows; each awaits its emit before the next. */
export const producersMany = 64;
/** Timing windows per measure, after one warm-up window; the best is kept. */
const windows = 5;
/** Events a window may emit at most: 64 producers, 1 producer. */
export const windowEventsMany = 60_000;
const windowEventsOne = 5_000;
/** Deliveries in flight to the recipient (the daemon's window, Redis COUNT, NATS max_ack_pending). */
export const recipientWindow = 1024;
/** After a window's last emit, its deliveries must arrive within this (else the bench fails). */
const settleMs = 20_000;
/** A server must be ready within this. */
const startMs = 15_000;
export const mainScript = fileURLToPath(new URL('../cli/main.js', import.meta.url));

// ---- measuring ----

/** Deliveries seen by the recipient; `until` waits for a count (bounded in time). */
export class Counter {
  value = 0;
  #target = Infinity;
  #reached: (() => void) | null = null;

  add(n: number): void {
    this.value += n;
    if (this.value >= this.#target) {
      const reached = this.#reached;
      this.#target = Infinity;
      this.#reached = null;
      reached?.();
    }
  }

  until(target: number, ms: number, what: string): Promise<void> {
    if (this.value >= target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#reached = null;
        this.#target = Infinity;
        reject(
          new Error(`daemon bench: ${what}: ${this.value} of ${target} delivered in ${ms} ms`),
        );
      }, ms);
      this.#target = target;
      this.#reached = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** One system under test, connected: a producer's emit resolves once the event is durable. */
export interface System {
  name: string;
  emitter(index: number): () => Promise<unknown>;
  delivered: Counter;
  /** The server's process id, for its CPU time. */
  serverPid: number | undefined;
  close(): Promise<void>;
}

export interface Figure {
  /** Best window's events/s (wall clock, emit of the first to delivery of the last). */
  rate: number;
  /** Emit to ack, microseconds (every measured window). */
  latency: Latency;
  /** CPU microseconds per event over the measured windows: the server, and this process. */
  serverCpu: number;
  clientCpu: number;
  events: number;
}

/** Clock ticks of user + system time of a process (Linux /proc), or NaN. */
function processTicks(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  } catch {
    return NaN;
  }
}
const ticksPerSecond = 100;

/**
 * `producers` loops, each awaiting one emit after another, until the window's event budget or
 * time cap is spent; then the window waits for every event it emitted to be delivered. The
 * rate is events over the time from the first emit to the last delivery.
 */
export async function measure(
  system: System,
  producers: number,
  maxEvents: number,
  maxMs: number,
): Promise<Figure> {
  const emitters = Array.from({ length: producers }, (_, p) => system.emitter(p));
  let best = 0;
  let events = 0;
  const samples: number[] = [];
  let ticks = 0;
  let cpu = 0;
  for (let window = -1; window < windows; window++) {
    const warm = window < 0;
    const base = system.delivered.value;
    const ticksStart = processTicks(system.serverPid);
    const cpuStart = process.cpuUsage();
    let issued = 0;
    const start = performance.now();
    const deadline = start + maxMs;
    await Promise.all(
      emitters.map(async (emit) => {
        while (issued < maxEvents && performance.now() < deadline) {
          issued++;
          const t = performance.now();
          await emit();
          if (!warm) samples.push((performance.now() - t) * 1000);
        }
      }),
    );
    await system.delivered.until(base + issued, settleMs, `${system.name}, ${producers}p`);
    const elapsed = performance.now() - start;
    if (warm) continue;
    const used = process.cpuUsage(cpuStart);
    cpu += used.user + used.system;
    ticks += processTicks(system.serverPid) - ticksStart;
    events += issued;
    best = Math.max(best, (issued * 1000) / elapsed);
  }
  return {
    rate: best,
    latency: percentiles(samples),
    serverCpu: ((ticks / ticksPerSecond) * 1e6) / events,
    clientCpu: cpu / events,
    events,
  };
}

// ---- servers as child processes ----

/** A binary on PATH or in the sbin folders (Debian puts nats-server in /usr/sbin). */
export function findBinary(name: string): string | null {
  const folders = [
    ...(process.env['PATH'] ?? '').split(delimiter),
    '/usr/sbin',
    '/usr/local/sbin',
    '/sbin',
  ];
  for (const folder of folders) {
    if (folder !== '' && existsSync(join(folder, name))) return join(folder, name);
  }
  return null;
}

export interface Server {
  child: ChildProcess;
  /** The first match of `ready` in the server's output. */
  match: RegExpMatchArray;
  /** The server's output so far (the tail), for error messages. */
  output: () => string;
}

/** Starts a server and waits (bounded) for a line of its output to match `ready`. */
export function startServer(command: string, args: string[], ready: RegExp): Promise<Server> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const output = (): string => text.slice(-2000);
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (error: Error | null, match?: RegExpMatchArray): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error === null && match !== undefined) resolve({ child, match, output });
      else {
        child.kill('SIGKILL');
        reject(error ?? new Error('no match'));
      }
    };
    const timer = setTimeout(
      () => finish(new Error(`${command} not ready in ${startMs} ms:\n${output()}`)),
      startMs,
    );
    const onData = (chunk: Buffer): void => {
      text = (text + chunk.toString('utf8')).slice(-20_000);
      const match = ready.exec(text);
      if (match !== null) finish(null, match);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) => finish(error));
    child.on('exit', (code, signal) =>
      finish(new Error(`${command} exited (${signal ?? code}) before it was ready:\n${output()}`)),
    );
  });
}

/** SIGTERM, then SIGKILL if it has not exited within 5 s. */
export async function stopServer(server: Server): Promise<void> {
  const child = server.child;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

// ---- nvrelay serve ----

async function daemonSystem(
  dir: string,
  durability: 'process' | 'power',
  profileDir: string | undefined,
): Promise<System> {
  const device = join(dir, `daemon-${durability}.nvram`);
  const socket = join(dir, `daemon-${durability}.sock`);
  const config = join(dir, 'daemon-config.json');
  writeFileSync(config, JSON.stringify({ inFlightMax: recipientWindow }));
  const nodeFlags = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
  const server = await startServer(
    process.execPath,
    [
      ...nodeFlags,
      mainScript,
      'serve',
      device,
      '--socket',
      socket,
      '--durability',
      durability,
      '--config',
      config,
      '--log-format',
      'json',
    ],
    /"msg":"listening"/,
  );
  const clients: Client[] = [];
  try {
    const delivered = new Counter();
    const recipient = await connect(`unix:${socket}`, { client: 'bench-recipient' });
    clients.push(recipient);
    await recipient.subscribe(
      'r0',
      { prefixes: ['bench.'], window: recipientWindow },
      (event, confirmer) => {
        if (event.attempt === 1) delivered.add(1);
        confirmer.confirm(event.seq);
      },
    );
    const producers = await connect(`unix:${socket}`, { client: 'bench-producers' });
    clients.push(producers);
    const details = new Uint8Array(detailsBytes).fill(0x5a);
    return {
      name: `nvrelay serve (${durability})`,
      emitter: (index) => {
        const producer = producers.producer(`p${index}`);
        return () => producer.emit(eventType, 'info', details);
      },
      delivered,
      serverPid: server.child.pid,
      close: async () => {
        for (const client of clients) client.close();
        await stopServer(server);
      },
    };
  } catch (error) {
    for (const client of clients) client.close();
    await stopServer(server);
    throw error;
  }
}

// ---- peers: Redis Streams, NATS JetStream ----

type RedisArgument = string | number | Buffer;
interface RedisClient {
  xadd(...args: RedisArgument[]): Promise<string | null>;
  xgroup(...args: RedisArgument[]): Promise<unknown>;
  xreadgroup(...args: RedisArgument[]): Promise<Array<[string, Array<[string, string[]]>]> | null>;
  xack(...args: RedisArgument[]): Promise<number>;
  ping(): Promise<string>;
  quit(): Promise<unknown>;
  disconnect(): void;
}
type RedisConstructor = new (options: Record<string, unknown>) => RedisClient;

interface NatsMessage {
  ack(): void;
}
interface NatsConsumerMessages extends AsyncIterable<NatsMessage> {
  stop(): void;
}
interface NatsConnection {
  jetstreamManager(): Promise<{
    streams: { add(config: Record<string, unknown>): Promise<unknown> };
    consumers: { add(stream: string, config: Record<string, unknown>): Promise<unknown> };
  }>;
  jetstream(): {
    publish(subject: string, data: Uint8Array): Promise<unknown>;
    consumers: {
      get(
        stream: string,
        name: string,
      ): Promise<{ consume(options: Record<string, unknown>): Promise<NatsConsumerMessages> }>;
    };
  };
  drain(): Promise<void>;
  close(): Promise<void>;
}
interface NatsModule {
  connect(options: Record<string, unknown>): Promise<NatsConnection>;
  AckPolicy: { Explicit: string };
  RetentionPolicy: { Workqueue: string };
  StorageType: { File: string };
}

/** bench/peers/, from bench/ (sources) or dist/bench/ (built). */
function peersDir(): string | null {
  const candidates = [
    new URL('./peers/', import.meta.url),
    new URL('../../bench/peers/', import.meta.url),
  ];
  return (
    candidates
      .map((url) => fileURLToPath(url))
      .find((dir) => existsSync(join(dir, 'package.json'))) ?? null
  );
}

/** ioredis and nats from bench/peers, installed from its lock on first use; or why not. */
function loadPeerClients(): { Redis: RedisConstructor; nats: NatsModule } | string {
  const dir = peersDir();
  if (dir === null) return 'bench/peers/package.json not found';
  const installed = ['ioredis', 'nats'].every((name) =>
    existsSync(join(dir, 'node_modules', name, 'package.json')),
  );
  if (!installed) {
    console.error(`installing the peer clients: npm ci --prefix ${dir}`);
    const result = spawnSync('npm', ['ci', '--prefix', dir, '--no-audit', '--no-fund'], {
      stdio: ['ignore', 2, 2],
      timeout: 300_000,
    });
    if (result.status !== 0) return `npm ci --prefix ${dir} failed`;
  }
  const require = createRequire(join(dir, 'package.json'));
  try {
    const ioredis = require('ioredis') as { Redis: RedisConstructor };
    return { Redis: ioredis.Redis, nats: require('nats') as NatsModule };
  } catch (error) {
    return `loading ioredis/nats from ${dir}: ${(error as Error).message}`;
  }
}

async function redisSystem(
  binary: string,
  Redis: RedisConstructor,
  dir: string,
  fsync: 'everysec' | 'always',
): Promise<System> {
  const data = join(dir, `redis-${fsync}`);
  mkdirSync(data);
  const socket = join(dir, `redis-${fsync}.sock`);
  const server = await startServer(
    binary,
    [
      '--port',
      '0', // no TCP: the Unix socket only
      '--unixsocket',
      socket,
      '--unixsocketperm',
      '700',
      '--dir',
      data,
      '--appendonly',
      'yes',
      '--appendfsync',
      fsync,
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
    ],
    /ready to accept connections/i,
  );
  const clients: RedisClient[] = [];
  let reading: Promise<void> = Promise.resolve();
  let running = true;
  try {
    const options = { path: socket, enableAutoPipelining: true, maxRetriesPerRequest: 0 };
    const producer = new Redis(options);
    clients.push(producer);
    const reader = new Redis(options);
    clients.push(reader);
    await producer.ping();
    await reader.xgroup('CREATE', 'bench', 'g', '$', 'MKSTREAM');
    const delivered = new Counter();
    // the recipient: read up to a window of new entries, count them, XACK them (not awaited,
    // like the daemon's confirm frames), read again
    reading = (async () => {
      let acked: Promise<unknown> = Promise.resolve();
      while (running) {
        const reply = await reader.xreadgroup(
          'GROUP',
          'g',
          'r0',
          'COUNT',
          recipientWindow,
          'BLOCK',
          50,
          'STREAMS',
          'bench',
          '>',
        );
        const entries = reply?.[0]?.[1] ?? [];
        if (entries.length === 0) continue;
        delivered.add(entries.length);
        acked = reader.xack('bench', 'g', ...entries.map(([id]) => id));
        acked.catch(() => {});
      }
      await acked;
    })();
    reading.catch(() => {});
    const details = Buffer.alloc(detailsBytes, 0x5a);
    return {
      name: `Redis Streams (appendfsync ${fsync})`,
      emitter: (index) => {
        const source = `p${index}`;
        return () =>
          producer.xadd(
            'bench',
            '*',
            'type',
            eventType,
            'severity',
            '6',
            'source',
            source,
            'details',
            details,
          );
      },
      delivered,
      serverPid: server.child.pid,
      close: async () => {
        running = false;
        await reading.catch(() => {});
        for (const client of clients) await client.quit().catch(() => client.disconnect());
        await stopServer(server);
      },
    };
  } catch (error) {
    running = false;
    for (const client of clients) client.disconnect();
    await stopServer(server);
    throw error;
  }
}

async function natsSystem(binary: string, nats: NatsModule, dir: string): Promise<System> {
  const data = join(dir, 'nats');
  mkdirSync(data);
  const config = join(dir, 'nats.conf');
  writeFileSync(config, `listen: 127.0.0.1:-1\njetstream { store_dir: ${JSON.stringify(data)} }\n`);
  const server = await startServer(
    binary,
    ['-c', config],
    /Listening for client connections on 127\.0\.0\.1:(\d+)[\s\S]*Server is ready/,
  );
  const connections: NatsConnection[] = [];
  let messages: NatsConsumerMessages | null = null;
  let reading: Promise<void> = Promise.resolve();
  try {
    const servers = `127.0.0.1:${server.match[1] ?? ''}`;
    const producer = await nats.connect({ servers, reconnect: false });
    connections.push(producer);
    const jsm = await producer.jetstreamManager();
    await jsm.streams.add({
      name: 'BENCH',
      subjects: ['bench.>'],
      storage: nats.StorageType.File,
      retention: nats.RetentionPolicy.Workqueue,
    });
    await jsm.consumers.add('BENCH', {
      durable_name: 'r0',
      ack_policy: nats.AckPolicy.Explicit,
      max_ack_pending: recipientWindow,
    });
    const reader = await nats.connect({ servers, reconnect: false });
    connections.push(reader);
    const consumer = await reader.jetstream().consumers.get('BENCH', 'r0');
    const delivered = new Counter();
    const consumed = await consumer.consume({ max_messages: recipientWindow });
    messages = consumed;
    reading = (async () => {
      for await (const message of consumed) {
        delivered.add(1);
        message.ack();
      }
    })();
    reading.catch(() => {});
    const js = producer.jetstream();
    const details = new Uint8Array(detailsBytes).fill(0x5a);
    return {
      name: 'NATS JetStream (file storage)',
      emitter: () => () => js.publish(eventType, details),
      delivered,
      serverPid: server.child.pid,
      close: async () => {
        consumed.stop();
        await reading.catch(() => {});
        for (const connection of connections) await connection.close().catch(() => {});
        await stopServer(server);
      },
    };
  } catch (error) {
    messages?.stop();
    for (const connection of connections) await connection.close().catch(() => {});
    await stopServer(server);
    throw error;
  }
}

// ---- the floor: one msync, one loopback round trip ----

/** A child process echoing every chunk back on a Unix socket (its path in ECHO_SOCKET). */
const echoServer = `
const net = require('node:net');
const server = net.createServer((c) => c.on('data', (d) => c.write(d)));
server.listen(process.env.ECHO_SOCKET, () => console.log('echo ready'));
process.on('SIGTERM', () => process.exit(0));
`;

/** A 16-byte ping and its echo over a Unix socket to another process, p50. */
async function loopbackRoundTrip(dir: string, seconds: number): Promise<Latency> {
  const path = join(dir, 'echo.sock');
  const server = await startServerWithEnv(echoServer, path);
  const socket = netConnect({ path });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    let pending: (() => void) | null = null;
    socket.on('data', () => pending?.());
    const ping = Buffer.alloc(16, 1);
    const once = (): Promise<void> =>
      new Promise((resolve) => {
        pending = resolve;
        socket.write(ping);
      });
    for (let i = 0; i < 200; i++) await once();
    const samples: number[] = [];
    const until = performance.now() + seconds * 1000;
    while (performance.now() < until && samples.length < 100_000) {
      const start = performance.now();
      await once();
      samples.push((performance.now() - start) * 1000);
    }
    return percentiles(samples);
  } finally {
    socket.destroy();
    await stopServer(server);
  }
}

function startServerWithEnv(script: string, socketPath: string): Promise<Server> {
  const previous = process.env['ECHO_SOCKET'];
  process.env['ECHO_SOCKET'] = socketPath;
  try {
    return startServer(process.execPath, ['-e', script], /echo ready/);
  } finally {
    if (previous === undefined) delete process.env['ECHO_SOCKET'];
    else process.env['ECHO_SOCKET'] = previous;
  }
}

// ---- the suite ----

interface Row {
  system: string;
  durabilityClass: 'process' | 'power';
  one: Figure | null;
  many: Figure | null;
  /** Why the row was skipped. */
  skipped?: string;
}

export function rateText(value: number): string {
  return value >= 1e6
    ? `${(value / 1e6).toFixed(2)} M events/s`
    : `${(value / 1e3).toFixed(1)} k events/s`;
}

export function cpuText(figure: Figure): string {
  return `CPU per event: server ${figure.serverCpu.toFixed(1)} us, client ${figure.clientCpu.toFixed(1)} us`;
}

async function measureSystem(
  make: () => Promise<System>,
  durabilityClass: 'process' | 'power',
  maxMs: number,
): Promise<Row> {
  const system = await make();
  try {
    const one = await measure(system, 1, windowEventsOne, maxMs);
    const many = await measure(system, producersMany, windowEventsMany, maxMs);
    return { system: system.name, durabilityClass, one, many };
  } finally {
    await system.close();
  }
}

async function run(context: BenchContext): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(context.dir, 'nvrelay-daemon-'));
  const profileFlag = context.flags['daemon-prof'];
  const profileDir = typeof profileFlag === 'string' ? profileFlag : undefined;
  try {
    /** Each window's time cap (the event budget usually ends it first for the fast rows). */
    const maxMs = context.seconds * 400;
    const results: BenchResult[] = [];
    const rows: Row[] = [];
    if (!existsSync(mainScript)) throw new Error(`daemon bench: ${mainScript}: npm run build`);
    for (const durability of ['process', 'power'] as const) {
      console.error(`  nvrelay serve, ${durability}`);
      rows.push(
        await measureSystem(() => daemonSystem(dir, durability, profileDir), durability, maxMs),
      );
    }
    const ours = { process: rows[0] as Row, power: rows[1] as Row };

    const redis = findBinary('redis-server');
    const natsServer = findBinary('nats-server');
    const clients = redis === null && natsServer === null ? null : loadPeerClients();
    /** A peer that fails (a server that does not start, a client error) skips its row. */
    const peerRow = async (
      measureRow: () => Promise<Row>,
      skipRow: (why: string) => void,
    ): Promise<void> => {
      try {
        rows.push(await measureRow());
      } catch (error) {
        skipRow((error as Error).message.split('\n')[0] ?? String(error));
      }
    };
    const skip = (system: string, durabilityClass: 'process' | 'power', why: string): void => {
      console.error(`  ${system}: skipped: ${why}`);
      rows.push({ system, durabilityClass, one: null, many: null, skipped: why });
    };
    for (const fsync of ['everysec', 'always'] as const) {
      const name = `Redis Streams (appendfsync ${fsync})`;
      const durabilityClass = fsync === 'always' ? 'power' : 'process';
      if (redis === null)
        skip(
          name,
          durabilityClass,
          'redis-server not found (PATH, /usr/sbin, /usr/local/sbin, /sbin)',
        );
      else if (typeof clients === 'string') skip(name, durabilityClass, clients);
      else if (clients !== null) {
        console.error(`  ${name}`);
        const { Redis } = clients;
        await peerRow(
          () => measureSystem(() => redisSystem(redis, Redis, dir, fsync), durabilityClass, maxMs),
          (why) => skip(name, durabilityClass, why),
        );
      }
    }
    const natsName = 'NATS JetStream (file storage)';
    if (natsServer === null)
      skip(natsName, 'process', 'nats-server not found (PATH, /usr/sbin, /usr/local/sbin, /sbin)');
    else if (typeof clients === 'string') skip(natsName, 'process', clients);
    else if (clients !== null) {
      console.error(`  ${natsName}`);
      const { nats } = clients;
      await peerRow(
        () => measureSystem(() => natsSystem(natsServer, nats, dir), 'process', maxMs),
        (why) => skip(natsName, 'process', why),
      );
    }

    const msync = msyncLatency(dir, context.seconds);
    const roundTrip = await loopbackRoundTrip(dir, context.seconds);

    // our rows
    for (const durability of ['process', 'power'] as const) {
      const row = ours[durability];
      const one = row.one as Figure;
      const many = row.many as Figure;
      results.push({
        measure: `daemon ${durability}: ${producersMany} producers`,
        value: many.rate,
        display: rateText(many.rate),
        ...(durability === 'process'
          ? { target: { min: 300_000, label: '>= 300 k events/s' } }
          : {}),
        note:
          `nvrelay serve (child process) over a Unix socket; ${producersMany} producer names on ` +
          'one connection, each awaiting its emit (ack once durable); one recipient on a second ' +
          `connection confirming every delivery (window ${recipientWindow}); 128-byte details; ` +
          `best of ${windows} windows of at most ${windowEventsMany.toLocaleString('en-US')} ` +
          `events or ${maxMs} ms, first emit to last delivery; ${cpuText(many)}`,
      });
      results.push({
        measure: `daemon ${durability}: 1 producer`,
        value: one.rate,
        display: `${rateText(one.rate)}; emit p50 ${one.latency.p50.toFixed(0)} us, p99 ${one.latency.p99.toFixed(0)} us`,
        note: `emit to ack, ${one.latency.samples} emits; ${cpuText(one)}`,
      });
    }
    results.push({
      measure: 'one msync of one dirty page p50',
      value: msync.p50,
      display: `${msync.p50.toFixed(0)} us (p99 ${msync.p99.toFixed(0)} us)`,
    });
    results.push({
      measure: 'loopback round trip p50 (Unix socket)',
      value: roundTrip.p50,
      display: `${roundTrip.p50.toFixed(0)} us (p99 ${roundTrip.p99.toFixed(0)} us)`,
      note: '16 bytes to a child process that echoes them, and back',
    });
    const power = ours.power.one as Figure;
    const floor = msync.p50 + roundTrip.p50;
    results.push({
      measure: 'daemon power: 1-producer emit p50 / (msync + round trip)',
      value: power.latency.p50 / floor,
      display: `${power.latency.p50.toFixed(0)} / (${msync.p50.toFixed(0)} + ${roundTrip.p50.toFixed(0)}) us = ${(power.latency.p50 / floor).toFixed(2)}x`,
      target: { max: 1.5, label: '<= 1.5x' },
    });

    // the peers, each beside ours of the same class
    for (const row of rows.slice(2)) {
      if (row.skipped !== undefined || row.one === null || row.many === null) {
        results.push({
          measure: `${row.system}`,
          value: NaN,
          display: `skipped: ${row.skipped ?? '?'}`,
        });
        continue;
      }
      const mine = ours[row.durabilityClass];
      const mineMany = mine.many as Figure;
      const mineOne = mine.one as Figure;
      const isTarget = row.system === 'Redis Streams (appendfsync always)';
      results.push({
        measure: `${row.system}: ${producersMany} producers`,
        value: row.many.rate,
        display: `${rateText(row.many.rate)}; daemon ${row.durabilityClass} / it ${(mineMany.rate / row.many.rate).toFixed(2)}x`,
        note: cpuText(row.many),
      });
      if (isTarget)
        results.push({
          measure: `daemon power / ${row.system}, ${producersMany} producers`,
          value: mineMany.rate / row.many.rate,
          display: `${(mineMany.rate / row.many.rate).toFixed(2)}x`,
          target: { min: 3, label: '>= 3x' },
        });
      results.push({
        measure: `${row.system}: 1 producer`,
        value: row.one.rate,
        display:
          `${rateText(row.one.rate)} (daemon ${row.durabilityClass} / it ` +
          `${(mineOne.rate / row.one.rate).toFixed(2)}x); p50 ${row.one.latency.p50.toFixed(0)} us ` +
          `(daemon / it ${(mineOne.latency.p50 / row.one.latency.p50).toFixed(2)}x)`,
        note: `p99 ${row.one.latency.p99.toFixed(0)} us; ${cpuText(row.one)}`,
      });
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const suite: BenchSuite = {
  name: 'daemon',
  description:
    'nvrelay serve over a Unix socket (1 and 64 producers, process and power) beside Redis Streams and NATS JetStream',
  flags: {
    'daemon-prof': {
      type: 'string',
      description: "write V8 CPU profiles (--cpu-prof) of the daemon's child processes to DIR",
    },
  },
  run,
};
