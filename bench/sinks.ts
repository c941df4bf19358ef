/**
 * The sinks' figures (src/sinks): events/s from emit to the sink's confirmation, through a
 * daemon in this process (durability `power`, the sink a recipient inside it), for
 * - the jsonl sink (every batch written and fdatasync'd before it is confirmed), and
 * - the redis-stream sink to a redis-server with `appendonly yes`, `appendfsync always`,
 * beside Redis Streams alone: the same XADD pipelines (same fields, same batch size, one
 * pipeline in flight, as the sink sends them) straight to that server from this process. Redis
 * alone is the ceiling of the redis-stream sink, so the sinks are shown as a ratio of it: what
 * the device, the delivery and the confirmation add on top of the server's own fsync.
 *
 * Producers: `producersMany` producers in this process, each awaiting its emit (group commit)
 * before the next, in windows of at most N events or a time cap, with at most `backlogMax`
 * events emitted and not yet confirmed (so the device never fills: the figure is the sink's
 * steady rate, not the producers'). A window's rate is its events over the time from its first
 * emit to its last confirmation; the best window after one warm-up is kept.
 *
 * redis-server is started here (loopback TCP on a free port, its data in a temp dir) and
 * stopped at the end; without the binary the Redis rows are skipped and say why.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { parseConfig } from '../src/daemon/config.js';
import { Daemon } from '../src/daemon/daemon.js';
import { eventJson } from '../src/sinks/event-json.js';
import type { SinkEvent } from '../src/sinks/sink.js';
import {
  detailsBytes,
  eventType,
  producersMany,
  rateText,
  startServer,
  stopServer,
  type Server,
  findBinary,
} from './daemon.js';
import type { BenchContext, BenchResult, BenchSuite } from './run.js';

/** Events per send (the sinks' batchMax; Redis alone's pipeline length). */
const batchMaxDefault = 64;
/** The sink's in-flight window: room for a batch being sent and the next ones queued. */
const inFlightMax = 1024;
/** Events emitted and not yet confirmed, at most. */
const backlogMax = 2048;
/** After a window's last emit, its confirmations must come within this (else the bench fails). */
const settleMs = 30_000;

interface Plan {
  windows: number;
  windowEvents: number;
  windowMs: number;
  batchMax: number;
}

interface Figure {
  /** Best window's events/s. */
  rate: number;
  events: number;
  /** Mean events per send over the measured windows (the sinks': what was queued). */
  batchMean: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startRedis(binary: string, dir: string): Promise<{ server: Server; port: number }> {
  const data = join(dir, 'redis');
  mkdirSync(data);
  const port = await freePort();
  const server = await startServer(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      data,
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--save',
      '',
      '--daemonize',
      'no',
    ],
    /ready to accept connections/i,
  );
  return { server, port };
}

/** Waits (polling, bounded) until `value()` reaches `target`. */
async function reach(value: () => number, target: number, what: string): Promise<void> {
  const end = performance.now() + settleMs;
  while (value() < target) {
    if (performance.now() > end)
      throw new Error(`sinks bench: ${what}: ${value()} of ${target} confirmed in ${settleMs} ms`);
    await sleep(1);
  }
}

/** A daemon in this process with one sink; producers emit, the sink's confirmations count. */
async function measureSink(
  dir: string,
  name: string,
  sink: Record<string, unknown>,
  plan: Plan,
): Promise<Figure> {
  const daemon = await Daemon.start({
    device: join(dir, `${name}.nvram`),
    durability: 'power',
    config: parseConfig({
      sinks: {
        [name]: {
          ...sink,
          batchMax: plan.batchMax,
          inFlightMax,
          retry: { timeoutMs: 30_000, timeoutMaxMs: 60_000 },
        },
      },
    }),
    log: pino({ level: 'silent' }),
    socket: null,
  });
  try {
    const recipient = daemon.sinks[0];
    if (recipient === undefined) throw new Error('sinks bench: the daemon has no sink');
    const confirmed = (): number => recipient.recipient.confirmed;
    const producers = Array.from({ length: producersMany }, (_, p) =>
      daemon.node.producer(`p${p}`),
    );
    const details = new Uint8Array(detailsBytes).fill(0x5a);
    let best = 0;
    let events = 0;
    let sent = 0;
    let batches = 0;
    for (let window = -1; window < plan.windows; window++) {
      const base = confirmed();
      const sentBase = recipient.counters.sent;
      const batchesBase = recipient.counters.batches;
      let issued = 0;
      const start = performance.now();
      const deadline = start + plan.windowMs;
      await Promise.all(
        producers.map(async (producer) => {
          while (issued < plan.windowEvents && performance.now() < deadline) {
            if (issued - (confirmed() - base) >= backlogMax) {
              await sleep(1);
              continue;
            }
            issued++;
            await producer.emitAsync(eventType, 'info', details);
          }
        }),
      );
      await reach(confirmed, base + issued, name);
      const elapsed = performance.now() - start;
      if (recipient.state !== 'up')
        throw new Error(
          `sinks bench: ${name}: the sink is ${recipient.state}: ${recipient.lastError}`,
        );
      if (window < 0) continue;
      events += issued;
      sent += recipient.counters.sent - sentBase;
      batches += recipient.counters.batches - batchesBase;
      best = Math.max(best, (issued * 1000) / elapsed);
    }
    return { rate: best, events, batchMean: batches > 0 ? sent / batches : 0 };
  } finally {
    await daemon.stop();
  }
}

/**
 * Redis alone: the sink's own pipelines (XADD with the same fields, the event's JSON built per
 * event the same way), one in flight, `batchMax` entries each, for the same windows.
 */
async function measureRedisAlone(port: number, plan: Plan): Promise<Figure> {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  redis.on('error', () => {});
  await redis.connect();
  try {
    const details = new Uint8Array(detailsBytes).fill(0x5a);
    let seq = 0;
    const event = (): SinkEvent => ({
      node: '0123456789abcdef',
      seq: ++seq,
      time: Date.now(),
      level: 6,
      severity: 'info',
      source: `p${seq % producersMany}`,
      type: eventType,
      details,
      replayed: false,
      attempt: 1,
      origin: [],
    });
    let best = 0;
    let events = 0;
    for (let window = -1; window < plan.windows; window++) {
      let issued = 0;
      const start = performance.now();
      const deadline = start + plan.windowMs;
      while (issued < plan.windowEvents && performance.now() < deadline) {
        const pipeline = redis.pipeline();
        const count = Math.min(plan.batchMax, plan.windowEvents - issued);
        for (let k = 0; k < count; k++) {
          const e = event();
          pipeline.xadd(
            'alone',
            '*',
            'node',
            e.node,
            'seq',
            e.seq,
            'time',
            e.time,
            'severity',
            e.severity,
            'source',
            e.source,
            'type',
            e.type,
            'event',
            JSON.stringify(eventJson(e)),
          );
        }
        const results = await pipeline.exec();
        const failed = results?.find(([error]) => error !== null);
        if (results === null || failed !== undefined)
          throw new Error(`sinks bench: Redis alone: ${String(failed?.[0] ?? 'no replies')}`);
        issued += count;
      }
      const elapsed = performance.now() - start;
      if (window < 0) continue;
      events += issued;
      best = Math.max(best, (issued * 1000) / elapsed);
    }
    return { rate: best, events, batchMean: plan.batchMax };
  } finally {
    redis.disconnect();
  }
}

async function run(context: BenchContext): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(context.dir, 'nvrelay-sinks-'));
  const batchFlag = context.flags['sinks-batch'];
  const batchMax = typeof batchFlag === 'string' ? Number(batchFlag) : batchMaxDefault;
  if (!Number.isInteger(batchMax) || batchMax < 1 || batchMax > inFlightMax)
    throw new Error(`--sinks-batch must be an integer in [1, ${inFlightMax}], got ${batchFlag}`);
  const plan: Plan = {
    windows: 5,
    windowEvents: context.quick ? 5_000 : 50_000,
    windowMs: context.seconds * 500,
    batchMax,
  };
  const how =
    `${producersMany} producers in process, each awaiting its emit (daemon durability power), ` +
    `at most ${backlogMax} unconfirmed; batchMax ${batchMax}, ${detailsBytes}-byte details; ` +
    `best of ${plan.windows} windows of at most ${plan.windowEvents.toLocaleString('en-US')} ` +
    `events or ${plan.windowMs} ms, first emit to last confirmation`;
  const results: BenchResult[] = [];
  let redis: { server: Server; port: number } | null = null;
  try {
    console.error('  jsonl sink (fdatasync)');
    const jsonl = await measureSink(
      dir,
      'jsonl',
      { kind: 'jsonl', path: join(dir, 'events.jsonl'), rotateBytes: 256 * 1024 * 1024, keep: 1 },
      plan,
    );
    const binary = findBinary('redis-server');
    let sink: Figure | null = null;
    let alone: Figure | null = null;
    let skipped: string | null = null;
    if (binary === null)
      skipped = 'redis-server not found (PATH, /usr/sbin, /usr/local/sbin, /sbin)';
    else {
      try {
        redis = await startRedis(binary, dir);
        console.error('  redis-stream sink (appendfsync always)');
        sink = await measureSink(
          dir,
          'redis',
          { kind: 'redis-stream', url: `redis://127.0.0.1:${redis.port}`, stream: 'sink' },
          plan,
        );
        console.error('  Redis Streams alone (appendfsync always)');
        alone = await measureRedisAlone(redis.port, plan);
      } catch (error) {
        skipped = (error as Error).message.split('\n')[0] ?? String(error);
      }
    }
    const ratio = (figure: Figure): string =>
      alone === null ? '' : `; ${(figure.rate / alone.rate).toFixed(2)}x Redis alone`;
    results.push({
      measure: 'jsonl sink (fdatasync), emit to confirmation',
      value: jsonl.rate,
      display: `${rateText(jsonl.rate)}${ratio(jsonl)}`,
      note: `${how}; ${jsonl.batchMean.toFixed(1)} events per write + fdatasync on average`,
    });
    if (sink !== null && alone !== null) {
      results.push({
        measure: 'redis-stream sink (appendfsync always), emit to confirmation',
        value: sink.rate,
        display: `${rateText(sink.rate)}${ratio(sink)}`,
        note: `the same producers; loopback TCP; ${sink.batchMean.toFixed(1)} events per XADD pipeline on average`,
      });
      results.push({
        measure: 'Redis Streams alone (appendfsync always), XADD pipelines',
        value: alone.rate,
        display: rateText(alone.rate),
        note: `pipelines of ${batchMax} XADD with the sink's fields, one in flight, loopback TCP, from this process`,
      });
    } else
      results.push({
        measure: 'redis-stream sink and Redis Streams alone',
        value: NaN,
        display: `skipped: ${skipped ?? '?'}`,
      });
    return results;
  } finally {
    if (redis !== null) await stopServer(redis.server);
    rmSync(dir, { recursive: true, force: true });
  }
}

export const suite: BenchSuite = {
  name: 'sinks',
  description:
    'daemon -> sink throughput (jsonl with fdatasync, redis-stream with appendfsync always) beside Redis Streams alone',
  flags: {
    'sinks-batch': { type: 'string', description: 'the sinks bench: events per send (default 64)' },
  },
  run,
};
