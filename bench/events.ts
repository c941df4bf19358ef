/**
 * The event core's figures (issue 3):
 *  - emit-deliver-confirm-retire throughput, 128-byte details, one recipient: 'process'
 *    durability (one producer, bursts of 64 then a drain pass) and 'power' durability (64
 *    concurrent producers sharing group commits);
 *  - single-producer 'power' emit latency p50/p99, beside one msync of one dirty page measured
 *    in the same run;
 *  - recovery (Node.boot) of 1,000,000 pending events.
 * With --peers, the same workload on better-sqlite3 (WAL; synchronous NORMAL for the process
 * class, FULL for the power class) and lmdb (noSync / default), installed on first use from
 * bench/peers/package.json (its own lock; never part of the root install). Each peer figure is
 * printed beside ours as ours/peer.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pageBytes } from '../src/constants.js';
import { formatNode, nodeLayout, type NodeLimits } from '../src/node/layout.js';
import { Node } from '../src/node/node.js';
import { DirectNvram, type Durability } from '../src/nvram/index.js';
import type { BenchContext, BenchResult, BenchSuite } from './run.js';

const detailsBytes = 128;
/** One drain pass per burst: the default in-flight window, so no delivery waits for a pass. */
const burst = 64;
/** Concurrent producers in the power-class throughput (one group commit per turn). */
const producers = 64;
const recoveryEvents = 1_000_000;
const recoveryEventsQuick = 100_000;
const eventType = 'bench.event';
/** One boot in a fresh process (compiled next to this file). */
const recoveryBootScript = fileURLToPath(new URL('./recovery-boot.js', import.meta.url));

// ---- our node ----

function freshNode(dir: string, name: string, durability: Durability, limits: NodeLimits) {
  const path = join(dir, `${name}.nvram`);
  const layout = nodeLayout(limits);
  DirectNvram.format(path, { sizeBytes: layout.sizeBytes, sections: layout.sections, force: true });
  const device = DirectNvram.open(path, { durability });
  formatNode(device, limits);
  return { path, device };
}

/** A fresh node on its own device file, started, with one recipient r0 that confirms at once. */
function startedNode(
  dir: string,
  name: string,
  durability: Durability,
  runtimeSlots: number,
  scheduling: 'auto' | 'manual',
  pipelinedFence = false,
): { node: Node; device: DirectNvram } {
  const { device } = freshNode(dir, name, durability, {
    detailsBytesMax: detailsBytes,
    runtimeSlots,
  });
  const node = Node.boot(device, { scheduling, pipelinedFence });
  node.registerRecipient('r0', {}, (event, recipient) => recipient.confirm(event.seq));
  node.start();
  return { node, device };
}

/** Timing windows per measure; the best is kept (other processes' load on a 2-core machine). */
const windows = 5;

/** Events per second by the wall clock and per CPU-second of this process. */
interface Rate {
  wall: number;
  cpu: number;
}

/**
 * The best of `windows` windows of seconds/windows each, after a warm-up window, of calling
 * `step` (which returns how many events it completed). CPU time is what the work costs whatever
 * else runs; the wall clock also counts waits (msync) and time other processes took.
 */
async function throughput(seconds: number, step: () => number | Promise<number>): Promise<Rate> {
  const windowMs = (seconds * 1000) / windows;
  const best: Rate = { wall: 0, cpu: 0 };
  for (let window = -1; window < windows; window++) {
    let events = 0;
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    while (performance.now() - start < windowMs) events += await step();
    if (window < 0) continue; // warm-up: page faults and JIT
    const cpu = process.cpuUsage(cpuStart);
    best.wall = Math.max(best.wall, (events * 1000) / (performance.now() - start));
    best.cpu = Math.max(best.cpu, (events * 1e6) / Math.max(cpu.user + cpu.system, 1));
  }
  return best;
}

/** 'process': one producer emits a burst, then one drain pass delivers, confirms, retires it. */
async function processThroughput(dir: string, seconds: number): Promise<Rate> {
  const { node, device } = startedNode(dir, 'events-process', 'process', 4096, 'manual');
  try {
    const producer = node.producer('bench');
    const details = new Uint8Array(detailsBytes).fill(0x5a);
    const retiredBefore = node.counters.retired;
    let emitted = 0;
    const rate = await throughput(seconds, () => {
      for (let i = 0; i < burst; i++) producer.emit(eventType, 'info', details);
      node.drain();
      emitted += burst;
      return burst;
    });
    check(node.counters.retired - retiredBefore === emitted, 'every emitted event was retired');
    return rate;
  } finally {
    node.close();
    device.close();
  }
}

/** 'power': 64 producers each await emitAsync in a loop; group commit, auto scheduling. */
/** Where a group's time goes: its fence (one msync), and the rest (JavaScript, write faults). */
interface GroupSplit {
  fenceP50: number;
  restP50: number;
  /** Distinct pages flushed before a fence, p50. */
  pagesP50: number;
  groups: number;
}

async function powerThroughput(
  dir: string,
  seconds: number,
  pipelinedFence = false,
): Promise<{ rate: Rate; split: GroupSplit }> {
  const name = pipelinedFence ? 'events-power-pipelined' : 'events-power';
  const { node, device } = startedNode(dir, name, 'power', 4096, 'auto', pipelinedFence);
  try {
    const details = new Uint8Array(detailsBytes).fill(0x5a);
    let running = true;
    const loops = Array.from({ length: producers }, async (_, p) => {
      const producer = node.producer(`p${p}`);
      while (running) await producer.emitAsync(eventType, 'info', details);
    });
    // The producers run on their own; each step is a window's sleep, counting what retired.
    const rate = await throughput(seconds, async () => {
      const before = node.counters.retired;
      await new Promise((done) => setTimeout(done, (seconds * 1000) / windows));
      return node.counters.retired - before;
    });
    const split = await groupSplit(device, (seconds * 1000) / windows);
    running = false;
    await Promise.all(loops);
    return { rate, split };
  } finally {
    node.close();
    device.close();
  }
}

/**
 * The raw floor of the 'process' path: a ring of 128-byte records written into the mapping and
 * published by a tail word, in the same bursts, with no codec, no CRC, no queue and no delivery:
 * what the hardware and the device's store path cost alone.
 */
async function processFloor(dir: string, seconds: number): Promise<Rate> {
  const { device } = freshNode(dir, 'events-floor', 'process', {
    detailsBytesMax: detailsBytes,
    runtimeSlots: 4096,
  });
  try {
    const ring = device.section('runtime-fifo');
    const slots = 4096;
    const record = new Uint8Array(128).fill(0x5a);
    const tailOffset = ring.offset;
    const slotsOffset = ring.offset + pageBytes;
    let tail = 0;
    return await throughput(seconds, () => {
      for (let i = 0; i < burst; i++) {
        device.storeBytes(slotsOffset + (tail % slots) * 128, record);
        tail++;
        device.storeU64(tailOffset, tail);
      }
      return burst;
    });
  } finally {
    device.close();
  }
}

/**
 * One more window, after the measured ones, with the device's fence timed (a wrapper on this
 * device object only, so the throughput windows above ran without it): the p50 of each group's
 * fence, and of the time from one fence's end to the next one's start.
 */
async function groupSplit(device: DirectNvram, ms: number): Promise<GroupSplit> {
  const fence = device.fence.bind(device);
  const flush = device.flush.bind(device);
  const fences: number[] = [];
  const rests: number[] = [];
  const pageCounts: number[] = [];
  const pages = new Set<number>();
  let lastEnd = -1;
  device.flush = (offset: number, length: number): void => {
    for (let page = Math.floor(offset / pageBytes); page * pageBytes < offset + length; page++)
      pages.add(page);
    flush(offset, length);
  };
  device.fence = (): void => {
    const start = performance.now();
    fence();
    const end = performance.now();
    fences.push((end - start) * 1000);
    pageCounts.push(pages.size);
    pages.clear();
    if (lastEnd >= 0) rests.push((start - lastEnd) * 1000);
    lastEnd = end;
  };
  await new Promise((done) => setTimeout(done, ms));
  // the prototype's methods again
  delete (device as { fence?: unknown }).fence;
  delete (device as { flush?: unknown }).flush;
  return {
    fenceP50: percentiles(fences).p50,
    restP50: percentiles(rests).p50,
    pagesP50: percentiles(pageCounts).p50,
    groups: fences.length,
  };
}

export interface Latency {
  p50: number;
  p99: number;
  samples: number;
}

export function percentiles(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return { p50: at(0.5), p99: at(0.99), samples: sorted.length };
}

/** Microseconds per call of `operation`, sampled one by one for `seconds` after a warm-up. */
function latency(seconds: number, operation: () => void, between: () => void): Latency {
  for (let i = 0; i < 50; i++) {
    operation();
    between();
  }
  const samples: number[] = [];
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) {
    const start = performance.now();
    operation();
    samples.push((performance.now() - start) * 1000);
    between();
  }
  return percentiles(samples);
}

/** One store of a word into one page and its persist ('power': msync of that page). */
export function msyncLatency(dir: string, seconds: number): Latency {
  const path = join(dir, 'msync.nvram');
  DirectNvram.format(path, {
    sizeBytes: 8192,
    sections: [{ name: 'page', length: 4096 }],
    force: true,
  });
  const device = DirectNvram.open(path, { durability: 'power' });
  try {
    const offset = device.section('page').offset;
    let value = 0;
    return latency(
      seconds,
      () => {
        device.storeU64(offset, ++value);
        device.persist(offset, 8);
      },
      () => {},
    );
  } finally {
    device.close();
  }
}

/** Single producer, 'power': each emit returns once durable; the drain pass is not timed. */
function emitLatency(dir: string, seconds: number): Latency {
  const { node, device } = startedNode(dir, 'events-latency', 'power', 1024, 'manual');
  try {
    const producer = node.producer('bench');
    const details = new Uint8Array(detailsBytes).fill(0x5a);
    return latency(
      seconds,
      () => producer.emit(eventType, 'info', details),
      () => node.drain(),
    );
  } finally {
    node.close();
    device.close();
  }
}

/** Fills a device with `count` events that nobody confirmed, then times Node.boot on it. */
function recoveryTime(
  dir: string,
  count: number,
): { ms: number; openMs: number; replayed: number } {
  const { path, device } = freshNode(dir, 'events-recovery', 'process', {
    detailsBytesMax: detailsBytes,
    runtimeSlots: 2 ** Math.ceil(Math.log2(count + 1)),
  });
  const node = Node.boot(device, { scheduling: 'manual' });
  node.registerRecipient('r0', {}, () => {}); // never confirms; never even delivered (no drain)
  node.start();
  const producer = node.producer('bench');
  const details = new Uint8Array(detailsBytes).fill(0x5a);
  // 'err' may use the whole pool (the urgent reserve included), so count fits in 2^k slots
  for (let i = 0; i < count; i++) producer.emit(eventType, 'err', details);
  node.close();
  device.close();
  const times: number[] = [];
  const openTimes: number[] = [];
  let replayed = 0;
  for (let boot = 0; boot < 3; boot++) {
    const child = spawnSync(process.execPath, [recoveryBootScript, path], { encoding: 'utf8' });
    check(child.status === 0, `recovery boot failed: ${child.stderr}`);
    const result = JSON.parse(child.stdout) as { ms: number; openMs: number; replayed: number };
    times.push(result.ms);
    openTimes.push(result.openMs);
    replayed = result.replayed;
  }
  rmSync(path, { force: true });
  return { ms: percentiles(times).p50, openMs: percentiles(openTimes).p50, replayed };
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`events bench: ${message}`);
}

// ---- peers (--peers) ----

type PeerClass = 'process' | 'power';

interface SqliteStatement {
  run(...parameters: unknown[]): unknown;
  all(...parameters: unknown[]): { seq: number }[];
}
interface SqliteDatabase {
  pragma(source: string): unknown;
  exec(source: string): void;
  prepare(source: string): SqliteStatement;
  transaction<F extends (...parameters: never[]) => unknown>(body: F): F;
  close(): void;
}
type SqliteConstructor = new (path: string) => SqliteDatabase;

interface LmdbDatabase {
  putSync(key: number, value: Uint8Array): boolean;
  removeSync(key: number): boolean;
  get(key: number): Uint8Array | undefined;
  transactionSync<T>(body: () => T): T;
  close(): Promise<void>;
}
type LmdbOpen = (options: Record<string, unknown>) => LmdbDatabase;

/** bench/peers/, from bench/ (sources) or dist/bench/ (built). */
function peersDir(): string {
  const candidates = [
    new URL('./peers/', import.meta.url),
    new URL('../../bench/peers/', import.meta.url),
  ];
  const found = candidates
    .map((url) => fileURLToPath(url))
    .find((dir) => existsSync(join(dir, 'package.json')));
  if (found === undefined) throw new Error('events bench: bench/peers/package.json not found');
  return found;
}

/** Loads the peer libraries, installing bench/peers from its lock on first use. */
function loadPeers(): { Database: SqliteConstructor; open: LmdbOpen } {
  const dir = peersDir();
  const installed = ['better-sqlite3', 'lmdb'].every((name) =>
    existsSync(join(dir, 'node_modules', name)),
  );
  if (!installed) {
    console.error(`installing the peer libraries: npm ci --prefix ${dir}`);
    const result = spawnSync('npm', ['ci', '--prefix', dir, '--no-audit', '--no-fund'], {
      stdio: ['ignore', 2, 2],
    });
    if (result.status !== 0) throw new Error(`events bench: npm ci --prefix ${dir} failed`);
  }
  const require = createRequire(join(dir, 'package.json'));
  return {
    Database: require('better-sqlite3') as SqliteConstructor,
    open: (require('lmdb') as { open: LmdbOpen }).open,
  };
}

/**
 * The workload on SQLite: an emit is an INSERT (its own transaction in the process class, one
 * transaction per group of 64 in the power class, like our group commit); a distribution pass
 * is one transaction that reads the next 64 events (deliver), marks them confirmed and deletes
 * the handled ones (retire).
 */
function sqliteStep(Database: SqliteConstructor, path: string, peerClass: PeerClass) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${peerClass === 'process' ? 'NORMAL' : 'FULL'}`);
  db.exec(
    'CREATE TABLE events (seq INTEGER PRIMARY KEY, time REAL NOT NULL, source TEXT NOT NULL, ' +
      'type TEXT NOT NULL, severity INTEGER NOT NULL, details BLOB NOT NULL, ' +
      'intended INTEGER NOT NULL, confirmed INTEGER NOT NULL DEFAULT 0)',
  );
  const insert = db.prepare(
    'INSERT INTO events (seq, time, source, type, severity, details, intended) VALUES (?, ?, ?, ?, ?, ?, 1)',
  );
  const pending = db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?');
  const confirm = db.prepare('UPDATE events SET confirmed = confirmed | 1 WHERE seq = ?');
  const retire = db.prepare('DELETE FROM events WHERE seq <= ? AND confirmed = intended');
  const details = Buffer.alloc(detailsBytes, 0x5a);
  let seq = 0;
  let cursor = 0;
  const emit = (): void => void insert.run(++seq, Date.now(), 'bench', eventType, 6, details);
  const emitGroup = db.transaction(() => {
    for (let i = 0; i < burst; i++) emit();
  });
  const distribute = db.transaction(() => {
    for (const row of pending.all(cursor, burst)) {
      confirm.run(row.seq);
      cursor = row.seq;
    }
    retire.run(cursor);
  });
  const step = (): number => {
    if (peerClass === 'power') emitGroup();
    else for (let i = 0; i < burst; i++) emit();
    distribute();
    return burst;
  };
  return { step, close: () => db.close() };
}

/** The workload on LMDB: the same steps, a put per emit (or per group), a write txn per pass. */
function lmdbStep(open: LmdbOpen, path: string, peerClass: PeerClass) {
  const db = open({
    path,
    noSync: peerClass === 'process',
    keyEncoding: 'uint32',
    encoding: 'binary',
  });
  const record = Buffer.alloc(64 + detailsBytes, 0x5a);
  const confirmed = Buffer.alloc(64 + detailsBytes, 0x5b);
  let seq = 0;
  let cursor = 0;
  const step = (): number => {
    if (peerClass === 'power') {
      db.transactionSync(() => {
        for (let i = 0; i < burst; i++) db.putSync(++seq, record);
      });
    } else {
      for (let i = 0; i < burst; i++) db.putSync(++seq, record);
    }
    db.transactionSync(() => {
      for (let i = 0; i < burst; i++) {
        const key = ++cursor;
        check(db.get(key) !== undefined, `lmdb: event ${key} missing`);
        db.putSync(key, confirmed);
        db.removeSync(key);
      }
    });
    return burst;
  };
  return { step, close: () => void db.close() };
}

interface PeerFigure {
  peer: string;
  peerClass: PeerClass;
  rate: Rate;
}

async function peerFigures(dir: string, seconds: number): Promise<PeerFigure[]> {
  const { Database, open } = loadPeers();
  const figures: PeerFigure[] = [];
  for (const peerClass of ['process', 'power'] as const) {
    const runs = [
      {
        peer: `better-sqlite3 (WAL, synchronous ${peerClass === 'process' ? 'NORMAL' : 'FULL'})`,
        make: () => sqliteStep(Database, join(dir, `peer-${peerClass}.sqlite`), peerClass),
      },
      {
        peer: `lmdb (${peerClass === 'process' ? 'noSync' : 'default sync'})`,
        make: () => lmdbStep(open, join(dir, `peer-${peerClass}.lmdb`), peerClass),
      },
    ];
    for (const { peer, make } of runs) {
      const workload = make();
      try {
        figures.push({ peer, peerClass, rate: await throughput(seconds, workload.step) });
      } finally {
        workload.close();
      }
    }
  }
  return figures;
}

// ---- the suite ----

/**
 * The figure a class is judged by: CPU time when CPU-bound, the wall clock when it waits on
 * msync.
 */
function judged(rate: Rate, peerClass: PeerClass): number {
  return peerClass === 'process' ? rate.cpu : rate.wall;
}

function rateDisplay(rate: Rate, peerClass: PeerClass): string {
  return peerClass === 'process'
    ? `${rateText(rate.cpu)} (wall ${rateText(rate.wall)})`
    : rateText(rate.wall);
}

function rateText(value: number): string {
  return value >= 1e6
    ? `${(value / 1e6).toFixed(2)} M events/s`
    : `${(value / 1e3).toFixed(1)} k events/s`;
}

async function run(context: BenchContext): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(context.dir, 'nvrelay-events-'));
  try {
    const seconds = context.seconds;
    const processRate = await processThroughput(dir, seconds);
    const floor = await processFloor(dir, seconds);
    const { rate: powerRate, split } = await powerThroughput(dir, seconds);
    const { rate: pipelinedRate } = await powerThroughput(dir, seconds, true);
    const msync = msyncLatency(dir, seconds);
    const emit = emitLatency(dir, seconds);
    const count = context.quick ? recoveryEventsQuick : recoveryEvents;
    const recovery = recoveryTime(dir, count);
    check(recovery.replayed === count, `recovery found ${recovery.replayed} of ${count} events`);
    const results: BenchResult[] = [
      {
        measure: 'process: emit-deliver-confirm-retire',
        value: judged(processRate, 'process'),
        display: rateDisplay(processRate, 'process'),
        target: { min: 1e6, label: '>= 1 M events/s' },
        note:
          `128-byte details, 1 recipient, 1 producer, bursts of ${burst} then one drain pass; ` +
          'per CPU-second of this process (wall clock beside it)',
      },
      {
        measure: 'process: raw floor (records and a tail word, nothing else)',
        value: floor.cpu,
        display: `${rateDisplay(floor, 'process')}; process = ${(processRate.cpu / floor.cpu).toFixed(2)} of it`,
        note:
          'a ring of 128-byte records stored into the mapping, each published by a tail word, in ' +
          `bursts of ${burst}: no codec, no CRC, no queue, no delivery; per CPU-second`,
      },
      {
        measure: 'process: share of the raw floor',
        value: processRate.cpu / floor.cpu,
        display: `${(processRate.cpu / floor.cpu).toFixed(2)}x`,
        target: { min: 0.6, label: '>= 0.6x floor' },
      },
      {
        measure: 'power: emit-deliver-confirm-retire',
        value: judged(powerRate, 'power'),
        display: rateDisplay(powerRate, 'power'),
        target: { min: 2e5, label: '>= 200 k events/s' },
        note:
          `${producers} concurrent producers awaiting emitAsync (group commit), auto scheduling; ` +
          'wall clock',
      },
      {
        measure: 'power: ceiling, one msync per group of 64',
        value: (producers * 1e6) / msync.p50,
        display: `${rateText((producers * 1e6) / msync.p50)}; measured = ${((judged(powerRate, 'power') * msync.p50) / (producers * 1e6)).toFixed(2)} of it`,
        note:
          `${producers} producers each awaiting one emit make groups of at most ${producers}: ` +
          'no group commit beats one msync (p50 of one dirty page, this run) per group with no CPU time at all',
      },
      {
        measure: 'power, pipelined fence: emit-deliver-confirm-retire',
        value: judged(pipelinedRate, 'power'),
        display: `${rateDisplay(pipelinedRate, 'power')}; ${((judged(pipelinedRate, 'power') * msync.p50) / (producers * 1e6)).toFixed(2)} of the ceiling, ${(judged(pipelinedRate, 'power') / judged(powerRate, 'power')).toFixed(2)}x unpipelined`,
        target: { min: (0.8 * producers * 1e6) / msync.p50, label: '>= 0.8x ceiling' },
        note:
          "NodeOptions.pipelinedFence: each group's msync on a worker thread while the next group " +
          'is assembled; an emit resolves once its own group is durable',
      },
      {
        measure: 'power: a group of 64, fence + the rest',
        value: split.fenceP50 + split.restP50,
        display: `${split.fenceP50.toFixed(0)} + ${split.restP50.toFixed(0)} us (p50s), ${split.pagesP50} pages a fence`,
        note:
          `one more window with the fence timed and the flushed pages counted (${split.groups} ` +
          'groups): the fence (one msync of ' +
          "the group's records and the pointer words), then the time to the next fence " +
          '(JavaScript of the emits, deliveries and confirmations, and write faults)',
      },
      {
        measure: 'power: single-producer emit p50',
        value: emit.p50 / msync.p50,
        display: `${emit.p50.toFixed(0)} us = ${(emit.p50 / msync.p50).toFixed(2)}x msync`,
        target: { max: 1.3, label: '<= 1.3x one msync' },
        note:
          `emit p50 ${emit.p50.toFixed(0)} us, p99 ${emit.p99.toFixed(0)} us (${emit.samples} emits); ` +
          `one msync of one dirty page p50 ${msync.p50.toFixed(0)} us, p99 ${msync.p99.toFixed(0)} us ` +
          `(${msync.samples} samples), same run`,
      },
      {
        measure: 'power: single-producer emit p99',
        value: emit.p99,
        display: `${emit.p99.toFixed(0)} us`,
      },
      {
        measure: 'one msync of one dirty page p50',
        value: msync.p50,
        display: `${msync.p50.toFixed(0)} us (p99 ${msync.p99.toFixed(0)} us)`,
      },
      {
        measure: `recovery of ${count.toLocaleString('en-US')} pending events`,
        value: recovery.ms,
        display: `${recovery.ms.toFixed(0)} ms`,
        ...(count === recoveryEvents ? { target: { max: 200, label: '< 200 ms' } } : {}),
        note:
          `DirectNvram.open (${recovery.openMs.toFixed(0)} ms) + Node.boot, until the node is up ` +
          'with its replay queued (records the core examines lazily are checked as the engine ' +
          'reaches them); median of 3 boots, each in a fresh process (bench/recovery-boot.ts)',
      },
    ];
    if (context.flags['peers'] === true) {
      for (const figure of await peerFigures(dir, seconds)) {
        // the power class against the faster of our two power paths in this run
        const power = pipelinedRate.wall > powerRate.wall ? pipelinedRate : powerRate;
        const ours = judged(figure.peerClass === 'process' ? processRate : power, figure.peerClass);
        const ratio = ours / judged(figure.rate, figure.peerClass);
        results.push({
          measure: `${figure.peerClass}: ${figure.peer}`,
          value: ratio,
          display: `${rateDisplay(figure.rate, figure.peerClass)}; ours/peer ${ratio.toFixed(1)}x`,
        });
      }
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const suite: BenchSuite = {
  name: 'events',
  description:
    'event throughput (process, power), power emit latency beside one msync, recovery of 1 M pending events',
  flags: {
    peers: {
      type: 'boolean',
      description:
        'also run the event workload on better-sqlite3 and lmdb (installs bench/peers on first use)',
    },
  },
  run,
};
