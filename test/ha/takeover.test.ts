/**
 * Takeover [193] (src/ha/takeover.ts), the cases around the main path of mirror.test.ts: a
 * mirror with nothing to take (no partner yet, or everything released already), a survivor whose pool is full (events offered again, in order,
 * never past a refused one [252]), a giveback's quiesce, the release of what an earlier takeover
 * recorded before a cut (Takeover.releasing, and the mirror already released), and a repeated
 * confirmation (each event released from the mirror once).
 */
import { describe, expect, test } from 'vitest';
import { MirrorSource } from '../../src/ha/mirror-source.js';
import type { PartnerMirror } from '../../src/ha/partner-mirror.js';
import { Takeover } from '../../src/ha/takeover.js';
import { Multiplexer } from '../../src/mux/multiplexer.js';
import type { Recipient } from '../../src/engine/recipient.js';
import { QueueFull } from '../../src/events/errors.js';
import { Node } from '../../src/node/node.js';
import { ManualClock, rebootDurable } from '../engine/harness.js';
import { LocalPort, idOf, nodeA, nodeB, openMirror, pairDevice, settle } from './pair.js';

type Device = ReturnType<typeof pairDevice>;
const enc = (text: string): Uint8Array => new TextEncoder().encode(text);

function boot(device: Device): Node {
  return Node.boot(device, { scheduling: 'manual', clock: new ManualClock() });
}

/** Registers 'pager' (disk.* events); it confirms unless `holding`, else keeps the seqs. */
function withPager(node: Node, holding = false): { recipient: Recipient; held: number[] } {
  const held: number[] = [];
  const recipient = node.registerRecipient('pager', { prefixes: ['disk.'] }, (event, pager) => {
    if (holding) held.push(event.seq);
    else pager.confirm(event.seq);
  });
  return { recipient, held };
}

/**
 * Node A mirrored into node B's partner sections, `count` disk events emitted on A and left
 * undelivered there (its pager holds them), then A fails: B's device.
 */
async function partnerFailed(count: number): Promise<Device> {
  const bDevice = pairDevice(nodeB);
  const a = boot(pairDevice(nodeA));
  withPager(a, true);
  const source = new MirrorSource(a, { stateSyncMs: 60_000 });
  a.start();
  await source.connected(new LocalPort(openMirror(bDevice)));
  for (let k = 0; k < count; k++) {
    const acked = a.producer('ctl').emitAsync('disk.failed', 'err', enc(`d${k}`));
    a.commit();
    await settle();
    await acked;
  }
  a.drainUntilIdle();
  await source.syncState();
  source.close();
  return rebootDurable(bDevice);
}

/** The survivor: node B booted on its device, with a multiplexer, started. */
function survivor(device: Device, holding = false) {
  const b = boot(device);
  const pager = withPager(b, holding);
  const mux = new Multiplexer(b);
  b.start();
  const mirror = openMirror(b.device as Device);
  return { b, mux, mirror, pager };
}

/** Runs the node's drains until `done` settles, for at most 3 s. */
async function pump<T>(node: Node, done: Promise<T>): Promise<T> {
  let finished = false;
  void done.then(() => (finished = true));
  const deadline = Date.now() + 3000;
  while (!finished && Date.now() < deadline) {
    node.drain();
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  expect(finished).toBe(true);
  return done;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const pendingSeqs = (mirror: PartnerMirror): number[] =>
  mirror.pending().map((event) => event.record.seq);

describe('a takeover with nothing to take', () => {
  test('of a mirror that never had a partner resolves at once and records nothing', async () => {
    const { mux, mirror } = survivor(pairDevice(nodeB));
    expect(mirror.partner).toBeNull();
    const report = await new Takeover(mux, mirror, { token: 5n, held: () => true }).run();
    expect(report).toEqual({ partner: null, token: 5n, pending: 0, released: 0, fenced: false });
    expect(Takeover.releasing(mux, mirror)).toBeNull();
    expect(mux.counters.received).toBe(0);
  });
});

/** Emits on B until its own pool or FIFO refuses: B's pager holds them all. */
function fill(b: Node): number {
  for (let count = 0; count < 100; count++) {
    try {
      b.producer('own').emit('disk.own', 'err');
    } catch (error) {
      expect(error).toBeInstanceOf(QueueFull);
      return count;
    }
  }
  throw new Error('the survivor never refused an emit');
}

describe('a survivor whose pool is full', () => {
  test('offers the refused events again, in order, until each is held once', async () => {
    const partnerDevice = await partnerFailed(3);
    const { b, mux, mirror, pager } = survivor(partnerDevice, true);
    const own = fill(b);
    b.commit();
    b.drainUntilIdle(); // pager holds B's own events: the FIFO stays full
    const before = pendingSeqs(mirror);
    expect(before).toHaveLength(3);
    const takeover = new Takeover(mux, mirror, { token: 9n, held: () => true, retryMs: 5 });
    const done = takeover.run();
    expect(mux.counters.refused).toBe(1); // the first one: never offered past it
    expect(mux.counters.received).toBe(1);
    await sleep(30);
    b.drain();
    expect(mux.counters.recorded).toBe(0);
    expect(mux.counters.refused).toBeGreaterThan(1); // offered again meanwhile
    expect(pendingSeqs(mirror)).toEqual(before);

    for (const seq of pager.held.splice(0, own)) pager.recipient.confirm(seq); // room again
    const report = await pump(b, done);
    expect(report).toMatchObject({ pending: 3, released: 3, fenced: false });
    expect(mux.counters.recorded).toBe(3);
    expect(mux.counters.duplicates).toBe(0);
    expect(mirror.pending()).toEqual([]);
    expect(takeover.unreleased).toBe(0);
  });

  test('takes nothing more once quiesced or stopped while it waits to offer again', async () => {
    for (const end of ['quiesce', 'stop'] as const) {
      const { b, mux, mirror, pager } = survivor(await partnerFailed(2), true);
      const own = fill(b);
      b.commit();
      b.drainUntilIdle();
      const takeover = new Takeover(mux, mirror, { token: 9n, held: () => true, retryMs: 5 });
      void takeover.run();
      expect(mux.counters.refused).toBe(1);
      takeover[end]();
      for (const seq of pager.held.splice(0, own)) pager.recipient.confirm(seq);
      b.drainUntilIdle();
      await sleep(30);
      b.drainUntilIdle();
      expect(mux.counters.received).toBe(1); // never offered again
      expect(mux.counters.recorded).toBe(0);
      expect(mirror.pending()).toHaveLength(2);
    }
  });
});

/**
 * B records A's events in a takeover and is cut: with `released` after the takeover finished
 * (the mirror released durably, B's custodian still holding), else before the mirror released.
 */
async function cutDuringTakeover(released: boolean) {
  const { b, mux, mirror } = survivor(await partnerFailed(3));
  const takeover = new Takeover(mux, mirror, { token: 1n, held: () => true });
  const done = takeover.run();
  b.commit(); // the three records durable on B
  if (released) await pump(b, done);
  takeover.stop();
  return rebootDurable(b.device as Device);
}

describe('what an earlier takeover recorded before a cut', () => {
  test('is released from the mirror by Takeover.releasing, nothing new taken', async () => {
    const { b, mux, mirror } = survivor(await cutDuringTakeover(false));
    expect(mux.held).toBe(3);
    expect(mirror.pending()).toHaveLength(3);
    const releasing = Takeover.releasing(mux, mirror);
    expect(releasing).not.toBeNull();
    expect(releasing?.unreleased).toBe(3);
    for (let turn = 0; turn < 50 && releasing?.unreleased !== 0; turn++) {
      b.drain();
      await settle();
    }
    expect(releasing?.unreleased).toBe(0);
    expect(mirror.pending()).toEqual([]);
    expect(mux.counters.received).toBe(0); // nothing taken from the mirror
    expect(mux.counters.recorded).toBe(0);
  });

  test('delivered to the custodian before the takeover runs is released, not offered', async () => {
    const { b, mux, mirror } = survivor(await cutDuringTakeover(false));
    b.drainUntilIdle(); // the custodian is delivered the three rebuilt holdings
    const report = await pump(b, new Takeover(mux, mirror, { token: 2n, held: () => true }).run());
    expect(report).toMatchObject({ pending: 3, released: 3 });
    expect(mux.counters.received).toBe(0); // released at connect: none offered again
    expect(mirror.pending()).toEqual([]);
  });

  test('and already released from the mirror is let go by the custodian', async () => {
    const { b, mux, mirror } = survivor(await cutDuringTakeover(true));
    expect(mirror.pending()).toEqual([]);
    const held = mux.held;
    expect(held).toBeGreaterThan(0); // the custodian's confirmations were not durable yet
    b.drainUntilIdle();
    const report = await new Takeover(mux, mirror, { token: 2n, held: () => true }).run();
    // the mirror holds nothing pending: resolved at once, nothing taken
    expect(report).toMatchObject({ partner: idOf(nodeA), pending: 0, released: 0 });
    expect(mux.counters.received).toBe(0);
    for (let turn = 0; turn < 50 && mux.held > 0; turn++) {
      b.drain();
      await settle();
    }
    expect(mux.held).toBe(0);
    expect(mux.counters.released).toBe(held);
  });
});

test('a confirmation repeated for one event releases it from the mirror once', async () => {
  const { b, mux, mirror } = survivor(await partnerFailed(2));
  const [first, second] = pendingSeqs(mirror) as [number, number];
  const takeover = new Takeover(mux, mirror, { token: 4n, held: () => true });
  const done = takeover.run();
  expect(takeover.unreleased).toBe(2); // both being recorded here
  await takeover.confirmDurable(first);
  await takeover.confirmDurable(first);
  expect(pendingSeqs(mirror)).toEqual([second]);
  expect(takeover.unreleased).toBe(1);
  const report = await pump(b, done);
  expect(report).toMatchObject({ pending: 2, released: 2 });
  expect(mirror.pending()).toEqual([]);
});
