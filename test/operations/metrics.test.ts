/**
 * The operations endpoint's /metrics (src/operations/metrics.ts), scraped over HTTP from a daemon
 * in this process: a declared recipient that never connects (it is owed everything), a remote
 * recipient that confirms some events and lets the others run out of attempts (dead letters),
 * and a jsonl sink. Every metric is present, and its values agree with the node's own stats and
 * with the device as a reboot would read it (inspectNode); after a restart, events recovered
 * but not yet examined still count as owed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { connect, type Client } from '../../src/client/client.js';
import { parseConfig } from '../../src/daemon/config.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { entryFlagUnexamined } from '../../src/engine/indication-queue.js';
import { NodeError } from '../../src/events/errors.js';
import type { Durability } from '../../src/nvram/index.js';
import { inspectDeviceFile, startDaemon as startPlainDaemon } from '../daemon/harness.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

interface Running {
  daemon: Daemon;
  dir: string;
  device: string;
  socket: string;
  logs: Record<string, unknown>[];
  url: string;
}

async function startDaemon(
  config: unknown,
  dir: string,
  durability: Durability = 'process',
): Promise<Running> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n'))
        if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const device = join(dir, 'd.nvram');
  const socket = join(dir, 'd.sock');
  const daemon = await Daemon.start({
    device,
    durability,
    config: parseConfig(config),
    log: pino({ level: 'info' }, sink),
    socket,
    operations: { host: '127.0.0.1', port: 0 },
  });
  cleanup.push(() => daemon.stop());
  const port = daemon.operations?.port;
  expect(port).toBeGreaterThan(0);
  return { daemon, dir, device, socket, logs, url: `http://127.0.0.1:${port}` };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nvrelay-metrics-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function until(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One exposition, by `name{label="value",...}` with the labels sorted. */
interface Scrape {
  text: string;
  types: Map<string, string>;
  samples: Map<string, number>;
  value(name: string, labels?: Record<string, string>): number;
}

function key(name: string, labels: Record<string, string>): string {
  const pairs = Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, value]) => `${label}=${JSON.stringify(value)}`);
  return pairs.length === 0 ? name : `${name}{${pairs.join(',')}}`;
}

async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) types.set(type[1] as string, type[2] as string);
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(sample, line).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const [, label, value] of (sample?.[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[label as string] = value as string;
    samples.set(key(sample?.[1] as string, labels), Number(sample?.[3]));
  }
  return {
    text,
    types,
    samples,
    value(name, labels = {}) {
      const found = samples.get(key(name, labels));
      if (found === undefined) throw new Error(`no sample ${key(name, labels)}`);
      return found;
    },
  };
}

const gauges = [
  'nvrelay_node_info',
  'nvrelay_node_running',
  'nvrelay_start_time_seconds',
  'nvrelay_connections',
  'nvrelay_recovery_replayed_events',
  'nvrelay_recovery_discarded_events',
  'nvrelay_recovery_events',
  'nvrelay_recovery_events_rejected',
  'nvrelay_recipient_pending_events',
  'nvrelay_recipient_in_flight_events',
  'nvrelay_recipient_oldest_unconfirmed_age_seconds',
  'nvrelay_recipient_attached',
  'nvrelay_fifo_pending_events',
  'nvrelay_fifo_capacity_events',
  'nvrelay_dead_letters_held',
  'nvrelay_dead_letters_capacity',
  'nvrelay_dead_letters_damaged',
  'nvrelay_sink_up',
  'nvrelay_sink_queued_events',
];
const counters = [
  'nvrelay_device_boots_total',
  'nvrelay_events_emitted_total',
  'nvrelay_producer_rejected_total',
  'nvrelay_recipient_delivered_total',
  'nvrelay_recipient_redelivered_total',
  'nvrelay_recipient_confirmed_total',
  'nvrelay_recipient_dead_lettered_total',
  'nvrelay_recipient_confirms_ignored_total',
  'nvrelay_recipient_handler_errors_total',
  'nvrelay_dead_letter_full_total',
  'nvrelay_fences_total',
  'nvrelay_sink_sent_total',
  'nvrelay_sink_held_total',
  'nvrelay_sink_retried_total',
  'nvrelay_sink_refused_total',
];
const histograms = ['nvrelay_recipient_confirm_latency_seconds', 'nvrelay_fence_duration_seconds'];
const severities = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

const config = (dir: string): unknown => ({
  recipients: {
    archive: {}, // declared, never connects: owed every event
    audit: { retry: { timeoutMs: 50, attemptsMax: 1 } },
  },
  sinks: { file: { kind: 'jsonl', path: join(dir, 'events.jsonl'), retry: { timeoutMs: 50 } } },
});

/** The remote recipient: confirms disk.ok, never disk.bad (dead-lettered after one attempt). */
async function subscribeAudit(socket: string): Promise<{ client: Client; confirmed: Set<number> }> {
  const client = await connect(`unix:${socket}`);
  cleanup.push(() => client.close());
  const confirmed = new Set<number>();
  await client.subscribe('audit', { prefixes: ['disk.'] }, (event, recipient) => {
    if (event.type !== 'disk.ok') return;
    recipient.confirm(event.seq);
    confirmed.add(event.seq);
  });
  return { client, confirmed };
}

describe('the operations endpoint: /metrics', () => {
  test('every metric is there, and agrees with the node and with the device', async () => {
    const dir = tempDir();
    const running = await startDaemon(config(dir), dir);
    const { daemon } = running;
    const node = daemon.node;
    const logged = running.logs.find((line) => line['msg'] === 'operations endpoint');
    expect((logged?.['address'] as { port: number }).port).toBe(daemon.operations?.port);

    const { confirmed } = await subscribeAudit(running.socket);
    const producer = node.producer('disk');
    const firstEmit = Date.now();
    const seqs: number[] = [];
    for (let k = 0; k < 30; k++)
      seqs.push(
        producer.emit(
          k % 3 === 0 ? 'disk.bad' : 'disk.ok',
          'warning',
          new TextEncoder().encode(`{"k":${k}}`),
        ),
      );
    const refused = (): number =>
      producer.emit('disk.huge', 'crit', new Uint8Array(node.geometry.detailsBytesMax + 1));
    expect(refused).toThrow(NodeError);

    const file = daemon.sinks[0]!;
    const audit = () => node.stats().recipients.find((row) => row.name === 'audit')!;
    await until('the sink to hold everything', () => file.recipient.confirmed === seqs.length);
    await until('audit to confirm or dead-letter each event', () => {
      const row = audit();
      return row.confirmed === 20 && row.deadLettered === 10 && row.inFlight === 0;
    });
    await until('the confirmations to be durable', () => !node.engine.confirmationsPending());

    const metrics = await scrape(running.url);
    for (const name of gauges) expect(metrics.types.get(name), name).toBe('gauge');
    for (const name of counters) expect(metrics.types.get(name), name).toBe('counter');
    for (const name of histograms) expect(metrics.types.get(name), name).toBe('histogram');
    for (const name of [...gauges, ...counters])
      expect(
        [...metrics.samples.keys()].some((sample) => sample.split('{')[0] === name),
        name,
      ).toBe(true);

    // per recipient, against the device as a reboot would read it and the node's stats
    const stats = node.stats();
    const inspection = inspectDeviceFile(running.device);
    for (const name of ['archive', 'audit', 'file']) {
      const owed = inspection.recipients.find((row) => row.name === name)!.owed;
      expect(metrics.value('nvrelay_recipient_pending_events', { recipient: name }), name).toBe(
        owed,
      );
      const row = stats.recipients.find((r) => r.name === name)!;
      for (const [metric, value] of [
        ['delivered', row.delivered],
        ['redelivered', row.redelivered],
        ['confirmed', row.confirmed],
        ['dead_lettered', row.deadLettered],
      ] as const)
        expect(metrics.value(`nvrelay_recipient_${metric}_total`, { recipient: name })).toBe(value);
      expect(metrics.value('nvrelay_recipient_in_flight_events', { recipient: name })).toBe(
        row.inFlight,
      );
    }
    expect(metrics.value('nvrelay_recipient_pending_events', { recipient: 'archive' })).toBe(
      seqs.length,
    );
    expect(metrics.value('nvrelay_recipient_pending_events', { recipient: 'audit' })).toBe(0);
    expect(metrics.value('nvrelay_recipient_confirmed_total', { recipient: 'audit' })).toBe(
      confirmed.size,
    );
    expect(metrics.value('nvrelay_recipient_dead_lettered_total', { recipient: 'audit' })).toBe(10);
    expect(metrics.value('nvrelay_recipient_confirmed_total', { recipient: 'file' })).toBe(
      seqs.length,
    );
    expect(metrics.value('nvrelay_recipient_attached', { recipient: 'archive' })).toBe(0);
    expect(metrics.value('nvrelay_recipient_attached', { recipient: 'audit' })).toBe(1);
    expect(metrics.value('nvrelay_recipient_attached', { recipient: 'file' })).toBe(1);
    const age = metrics.value('nvrelay_recipient_oldest_unconfirmed_age_seconds', {
      recipient: 'archive',
    });
    expect(age).toBeGreaterThan(0);
    expect(age).toBeLessThanOrEqual((Date.now() - firstEmit) / 1000 + 0.1);
    expect(
      metrics.value('nvrelay_recipient_oldest_unconfirmed_age_seconds', { recipient: 'audit' }),
    ).toBe(0);
    // each confirmation in the window was timed (the hook was on before the first emit)
    for (const name of ['audit', 'file'])
      expect(
        metrics.value('nvrelay_recipient_confirm_latency_seconds_count', { recipient: name }),
      ).toBe(stats.recipients.find((r) => r.name === name)!.confirmed);

    // FIFOs and dead letters
    for (const fifo of inspection.fifos) {
      const live = stats.fifos.find((f) => f.name === fifo.name)!;
      expect(metrics.value('nvrelay_fifo_pending_events', { fifo: fifo.name })).toBe(live.pending);
      expect(metrics.value('nvrelay_fifo_pending_events', { fifo: fifo.name })).toBe(fifo.pending);
      expect(metrics.value('nvrelay_fifo_capacity_events', { fifo: fifo.name })).toBe(
        fifo.slotCount,
      );
    }
    expect(metrics.value('nvrelay_fifo_pending_events', { fifo: 'runtime-fifo' })).toBe(
      seqs.length,
    );
    expect(metrics.value('nvrelay_dead_letters_held')).toBe(inspection.deadLetters.length);
    expect(metrics.value('nvrelay_dead_letters_held')).toBe(10);
    expect(metrics.value('nvrelay_dead_letters_capacity')).toBe(node.geometry.deadLetterSlots);

    // producers: the one refused emit, under its reason and severity
    for (const reason of ['queue_full', 'too_large'])
      for (const severity of severities)
        expect(
          metrics.value('nvrelay_producer_rejected_total', { reason, severity }),
          `${reason} ${severity}`,
        ).toBe(reason === 'too_large' && severity === 'crit' ? 1 : 0);
    expect(metrics.value('nvrelay_events_emitted_total')).toBe(stats.counters.emitted);

    // the device, the sink, recovery
    const id = daemon.device.header.deviceId.toString(16).padStart(16, '0');
    expect(metrics.value('nvrelay_node_info', { node: id, durability: 'process' })).toBe(1);
    expect(metrics.value('nvrelay_node_running')).toBe(1);
    expect(metrics.value('nvrelay_device_boots_total')).toBe(daemon.device.header.bootCount);
    expect(metrics.value('nvrelay_device_boots_total')).toBeGreaterThanOrEqual(1);
    expect(metrics.value('nvrelay_connections')).toBe(daemon.connections);
    expect(metrics.value('nvrelay_fences_total')).toBe(0); // 'process' durability: no msync
    expect(metrics.value('nvrelay_fence_duration_seconds_count')).toBe(0);
    expect(metrics.value('nvrelay_sink_up', { sink: 'file' })).toBe(1);
    expect(metrics.value('nvrelay_sink_held_total', { sink: 'file' })).toBe(seqs.length);
    expect(metrics.value('nvrelay_sink_sent_total', { sink: 'file' })).toBe(file.counters.sent);
    expect(metrics.value('nvrelay_sink_refused_total', { sink: 'file' })).toBe(0);
    expect(metrics.value('nvrelay_recovery_replayed_events')).toBe(node.recovery.replayed);
    expect(metrics.value('nvrelay_recovery_events')).toBe(node.recovery.events.length);
  });

  test('after a restart, events recovered and not yet examined count as owed', async () => {
    const dir = tempDir();
    const first = await startDaemon(config(dir), dir);
    const producer = first.daemon.node.producer('disk');
    for (let k = 0; k < 25; k++) producer.emit('disk.ok', 'info', null);
    await until(
      'the sink to hold everything',
      () => first.daemon.sinks[0]!.recipient.confirmed === 25,
    );
    await first.daemon.stop();

    // no sink this time: nothing attached walks the queue, so nothing examines what was replayed
    const second = await startDaemon({ recipients: { archive: {}, audit: {} } }, dir);
    const node = second.daemon.node;
    expect(node.recovery.replayed).toBeGreaterThanOrEqual(25);
    const queue = node.queue;
    let unexamined = 0;
    for (let counter = queue.head; counter < queue.tail; counter++)
      if (((queue.flags[counter % queue.capacity] as number) & entryFlagUnexamined) !== 0)
        unexamined++;
    expect(unexamined).toBeGreaterThan(0); // what this test is about
    const metrics = await scrape(second.url);
    const inspection = inspectDeviceFile(second.device);
    for (const name of ['archive', 'audit', 'file']) {
      const owed = inspection.recipients.find((row) => row.name === name)!.owed;
      expect(metrics.value('nvrelay_recipient_pending_events', { recipient: name }), name).toBe(
        owed,
      );
    }
    expect(
      metrics.value('nvrelay_recipient_pending_events', { recipient: 'archive' }),
    ).toBeGreaterThanOrEqual(25);
    expect(metrics.value('nvrelay_recovery_replayed_events')).toBe(node.recovery.replayed);
    expect(metrics.value('nvrelay_device_boots_total')).toBe(second.daemon.device.header.bootCount);
  });

  test("in 'power' durability each msync is counted and timed", async () => {
    const dir = tempDir();
    const running = await startDaemon({}, dir, 'power');
    const before = await scrape(running.url);
    const producer = running.daemon.node.producer('disk');
    for (let k = 0; k < 5; k++) producer.emit('disk.ok', 'info', null);
    const after = await scrape(running.url);
    const fences = after.value('nvrelay_fences_total') - before.value('nvrelay_fences_total');
    const timed =
      after.value('nvrelay_fence_duration_seconds_count') -
      before.value('nvrelay_fence_duration_seconds_count');
    expect(fences).toBeGreaterThanOrEqual(5); // each synchronous emit is durable before it returns
    expect(timed).toBe(fences);
    expect(after.value('nvrelay_fences_total')).toBe(running.daemon.device.msyncCount);
  });

  test('HTTP: GET and HEAD only, 404 elsewhere, the hooks gone with the endpoint', async () => {
    const dir = tempDir();
    const running = await startDaemon({}, dir);
    const response = (path: string, method = 'GET', host?: string) =>
      new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
        (resolve, reject) => {
          const url = new URL(path, running.url);
          const req = request(
            url,
            { method, ...(host !== undefined ? { headers: { host } } : {}) },
            (res) => {
              let body = '';
              res.on('data', (chunk: Buffer) => (body += chunk.toString()));
              res.on('end', () =>
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body }),
              );
            },
          );
          req.on('error', reject);
          req.end();
        },
      );
    expect((await response('/nothing')).status).toBe(404);
    const post = await response('/metrics', 'POST');
    expect(post.status).toBe(405);
    expect(post.headers['allow']).toBe('GET, HEAD');
    const head = await response('/metrics', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);
    const status = await response('/status.json?x=1');
    expect(status.status).toBe(200);
    expect((JSON.parse(status.body) as { device: { path: string } }).device.path).toBe(
      running.device,
    );
    const page = await response('/');
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
    // a name rebound to 127.0.0.1 is refused; loopback names and addresses are not
    expect((await response('/status.json', 'GET', 'evil.example:80')).status).toBe(403);
    expect((await response('/status.json', 'GET', 'localhost')).status).toBe(200);

    const node = running.daemon.node;
    expect(node.engine.onConfirmLatency).not.toBeNull();
    expect(running.daemon.device.onSync).not.toBeNull();
    await running.daemon.stop();
    expect(node.engine.onConfirmLatency).toBeNull();
    expect(running.daemon.device.onSync).toBeNull();
    await expect(fetch(`${running.url}/metrics`)).rejects.toThrow();
  });

  test('without the endpoint, no hook is installed', async () => {
    const plain = await startPlainDaemon();
    cleanup.push(() => plain.remove());
    expect(plain.daemon.operations).toBeNull();
    expect(plain.daemon.node.engine.onConfirmLatency).toBeNull();
    expect(plain.daemon.device.onSync).toBeNull();
  });
});
