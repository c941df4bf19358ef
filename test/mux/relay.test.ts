/**
 * The multiplexing recipient over real sockets, in one process (src/mux; steps 250-280): an
 * upstream daemon, a mux daemon whose config names it, recipients of the mux. Custody and
 * end-to-end modes, the origin trail, and a mux restart that records nothing twice.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { connect, type Client, type RemoteEvent } from '../../src/client/client.js';
import { startDaemon, type TestDaemon } from '../daemon/harness.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function daemon(config: unknown = {}, dir?: string): Promise<TestDaemon> {
  const started = await startDaemon({ config, ...(dir !== undefined ? { dir } : {}) });
  cleanup.push(() => started.remove());
  return started;
}

async function client(socket: string): Promise<Client> {
  const c = await connect(`unix:${socket}`, { reconnectMs: { first: 20, max: 200 } });
  cleanup.push(() => c.close());
  return c;
}

function muxConfig(upstream: TestDaemon, mode: 'custody' | 'end-to-end'): unknown {
  return {
    upstreams: { u: { address: `unix:${upstream.socket}`, recipient: 'mux', mode, window: 64 } },
    recipients: { all: {}, disk: { prefixes: ['disk.'] } },
  };
}

function nodeId(d: TestDaemon): string {
  return d.daemon.device.header.deviceId.toString(16).padStart(16, '0');
}

async function until(what: string, done: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function collect(
  c: Client,
  name: string,
  confirm: (event: RemoteEvent) => boolean = () => true,
): RemoteEvent[] {
  const seen: RemoteEvent[] = [];
  void c.subscribe(name, {}, (event, r) => {
    seen.push(event);
    if (confirm(event)) r.confirm(event.seq);
  });
  return seen;
}

describe('a multiplexing recipient', () => {
  test('custody: every upstream event reaches the mux recipients it matches, with its origin', async () => {
    const upstream = await daemon({ recipients: { mux: {} } });
    const mux = await daemon(muxConfig(upstream, 'custody'));
    const down = await client(mux.socket);
    const all = collect(down, 'all');
    const disk = collect(down, 'disk');
    const producer = (await client(upstream.socket)).producer('raid');
    const seqs: number[] = [];
    for (let k = 0; k < 40; k++)
      seqs.push(await producer.emit(k % 2 === 0 ? 'disk.failed' : 'fan.slow', 'err', `${k}`));
    await until('deliveries', () => all.length === 40 && disk.length === 20);
    const node = upstream.daemon.node.stats();
    expect(all.map((e) => e.origin)).toEqual(seqs.map((seq) => [{ node: nodeId(upstream), seq }]));
    expect(all.map((e) => new TextDecoder().decode(e.details))).toEqual(seqs.map((_, k) => `${k}`));
    expect(disk.every((e) => e.type === 'disk.failed')).toBe(true);
    // the mux's device, formatted by serve, has room for a trail of 8 hops beside the details
    expect(upstream.daemon.node.geometry.detailsBytesMax).toBe(256);
    expect(mux.daemon.node.geometry.detailsBytesMax).toBe(256 + 1 + 16 * 8);
    const counters = mux.daemon.mux?.counters;
    await until('released', () => counters?.released === 40);
    expect(counters).toMatchObject({ received: 40, recorded: 40, duplicates: 0, refused: 0 });
    // the upstream's recipient 'mux' confirmed everything durably
    await until('upstream drained', () => upstream.daemon.node.stats().counters.confirmed === 40);
    expect(node.counters.emitted).toBe(40);
  });

  test("the upstream's prefixes and severityMax: only the events they match are relayed", async () => {
    const upstream = await daemon({ recipients: {} });
    const mux = await daemon({
      upstreams: {
        u: {
          address: `unix:${upstream.socket}`,
          recipient: 'mux',
          prefixes: ['disk.'],
          severityMax: 'err',
        },
      },
      recipients: { all: {} },
    });
    const down = await client(mux.socket);
    const all = collect(down, 'all');
    const producer = (await client(upstream.socket)).producer('raid');
    const matching = await producer.emit('disk.failed', 'err', 'a');
    await producer.emit('disk.slow', 'warning', 'b'); // less severe than err
    await producer.emit('fan.failed', 'crit', 'c'); // another prefix
    const last = await producer.emit('disk.gone', 'crit', 'd');
    await until('the matching events relayed', () => all.length === 2);
    expect(all.map((event) => event.origin.at(-1)?.seq)).toEqual([matching, last]);
    expect(all.map((event) => event.type)).toEqual(['disk.failed', 'disk.gone']);
    expect(mux.daemon.mux?.counters.received).toBe(2);
  });

  test('end-to-end: confirmed upstream only once the mux recipients confirmed; unmatched at once', async () => {
    const upstream = await daemon({ recipients: { mux: {} } });
    const mux = await daemon({
      upstreams: {
        u: { address: `unix:${upstream.socket}`, recipient: 'mux', mode: 'end-to-end' },
      },
      recipients: { disk: { prefixes: ['disk.'] } },
    });
    const down = await client(mux.socket);
    let confirming = false;
    const disk = collect(down, 'disk', () => confirming);
    const producer = (await client(upstream.socket)).producer('raid');
    for (let k = 0; k < 10; k++) await producer.emit('disk.failed', 'err', `${k}`);
    for (let k = 0; k < 5; k++) await producer.emit('fan.slow', 'info', `${k}`);
    await until('deliveries', () => disk.length === 10);
    const counters = mux.daemon.mux?.counters;
    // the five no subscription matches are released at once; the ten wait for 'disk'
    await until('unmatched released', () => counters?.released === 5);
    expect(counters?.unmatched).toBe(5);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(counters?.released).toBe(5);
    expect(upstream.daemon.node.stats().counters.confirmed).toBe(5);
    confirming = true; // the next re-delivery (a reconnect) is confirmed
    down.close();
    const again = await client(mux.socket);
    const redelivered = collect(again, 'disk');
    await until('redelivered', () => redelivered.length === 10);
    await until('released', () => counters?.released === 15);
    await until('upstream confirmed', () => upstream.daemon.node.stats().counters.confirmed === 15);
    expect(counters).toMatchObject({ recorded: 15, duplicates: 0 });
  });

  test('a mux restarted mid-stream records nothing twice and loses nothing', async () => {
    const upstream = await daemon({ recipients: { mux: {} } });
    const first = await startDaemon({ config: muxConfig(upstream, 'custody') });
    const dir = first.dir;
    const producer = (await client(upstream.socket)).producer('raid');
    const seqs: number[] = [];
    for (let k = 0; k < 30; k++) seqs.push(await producer.emit('disk.failed', 'err', `${k}`));
    await first.stop(); // held events, confirmations in flight: whatever state it stopped in
    for (let k = 30; k < 60; k++) seqs.push(await producer.emit('disk.failed', 'err', `${k}`));
    const second = await daemon(muxConfig(upstream, 'custody'), dir);
    const down = await client(second.socket);
    const all = collect(down, 'all');
    await until('deliveries', () => new Set(all.map((e) => e.origin[0]?.seq)).size === 60);
    await until('upstream confirmed', () => upstream.daemon.node.stats().counters.confirmed === 60);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // each upstream seq recorded once in the mux: one mux seq per upstream seq
    const byOrigin = new Map<number, Set<number>>();
    for (const event of all) {
      const origin = event.origin[0]?.seq ?? 0;
      byOrigin.set(origin, (byOrigin.get(origin) ?? new Set()).add(event.seq));
    }
    expect([...byOrigin.keys()].sort((a, b) => a - b)).toEqual(seqs);
    expect([...byOrigin.values()].every((muxSeqs) => muxSeqs.size === 1)).toBe(true);
  });
});
