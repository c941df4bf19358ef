/**
 * NVRAM mirroring, takeover and giveback of an HA pair in one process [193]: node A mirrors into
 * node B's partner sections; B takes A's unfinished events over; A returns and takes its
 * stream back without delivering again what B recorded.
 */
import { describe, expect, test } from 'vitest';
import { giveBack } from '../../src/ha/giveback.js';
import { MirrorSource } from '../../src/ha/mirror-source.js';
import { Takeover } from '../../src/ha/takeover.js';
import { Multiplexer } from '../../src/mux/multiplexer.js';
import { Node } from '../../src/node/node.js';
import type { OriginHop } from '../../src/events/origin.js';
import { NodeError } from '../../src/events/errors.js';
import { ManualClock, rebootDurable } from '../engine/harness.js';
import { LocalPort, idOf, nodeA, nodeB, openMirror, pairDevice, settle } from './pair.js';

const enc = (text: string): Uint8Array => new TextEncoder().encode(text);

function boot(device: ReturnType<typeof pairDevice>): Node {
  return Node.boot(device, { scheduling: 'manual', clock: new ManualClock() });
}

interface Seen {
  type: string;
  seq: number;
  origin: OriginHop[];
}

/** A node with the recipients of the pair: pager (disk.* only, confirms) and audit (all). */
function withRecipients(node: Node, seen: Map<string, Seen[]>, pagerConfirms = true): void {
  for (const [name, prefixes] of [
    ['pager', ['disk.']],
    ['audit', ['']],
  ] as const) {
    const list: Seen[] = [];
    seen.set(name, list);
    node.registerRecipient(name, { prefixes: [...prefixes] }, (event, recipient) => {
      list.push({ type: event.type, seq: event.seq, origin: event.origin() });
      if (name === 'audit' || pagerConfirms) recipient.confirm(event.seq);
    });
  }
}

/** Emits through the group commit and waits for the acknowledgement (manual scheduling). */
async function emit(node: Node, type: string, text = ''): Promise<number> {
  const acked = node.producer('ctl').emitAsync(type, 'err', enc(text));
  acked.catch(() => {}); // a refusal comes inside commit(); the caller awaits it below
  node.commit();
  await settle();
  return acked;
}

/** Node A started, mirroring into a fresh mirror of node B over a LocalPort. */
async function mirroredPair() {
  const a = boot(pairDevice(nodeA));
  const mirror = openMirror(pairDevice(nodeB));
  const port = new LocalPort(mirror);
  const source = new MirrorSource(a);
  a.start();
  await source.connected(port);
  return { a, mirror, port, source };
}

describe('an emit of a mirrored node', () => {
  test('is acknowledged only once the partner mirror holds it', async () => {
    const { a, mirror, port, source } = await mirroredPair();
    port.hold = true;
    let acked = 0;
    const emitted = a.producer('ctl').emitAsync('disk.failed', 'err', enc('d1'));
    void emitted.then((seq) => (acked = seq));
    a.commit();
    await settle();
    expect(acked).toBe(0); // durable here, not yet in the mirror
    expect(mirror.pending()).toEqual([]);
    port.release();
    const seq = await emitted;
    expect(acked).toBe(seq);
    expect(mirror.pending().map((event) => event.record.seq)).toEqual([seq]);
    expect(mirror.partner).toBe(idOf(nodeA));
    source.close();
  });

  test('refuses the synchronous emit, which could not wait for the mirror', () => {
    const a = boot(pairDevice(nodeA));
    new MirrorSource(a);
    a.start();
    expect(() => a.producer('ctl').emit('disk.failed', 'err')).toThrow(
      expect.objectContaining({ code: 'MIRROR_UNAVAILABLE' }),
    );
  });

  test("starts although recovery has reports to record (the node's own, not a producer's)", () => {
    const device = pairDevice(nodeA);
    const lease = device.section('control').offset + 64;
    device.storeBytes(lease, new Uint8Array(8).fill(0x5a)); // a damaged seq lease word: row L1
    device.persist(lease, 8);
    const a = boot(rebootDurable(device));
    expect(a.recovery.events.length).toBeGreaterThan(0);
    const source = new MirrorSource(a);
    a.start();
    expect(a.stats().counters.emitted).toBe(a.recovery.events.length);
    source.close();
  });

  test("without the partner: 'required' refuses the acknowledgement, 'preferred' counts it", async () => {
    const required = boot(pairDevice(nodeA));
    const strict = new MirrorSource(required, { mode: 'required' });
    required.start();
    const refused = emit(required, 'disk.failed');
    await expect(refused).rejects.toMatchObject({ code: 'MIRROR_UNAVAILABLE' });
    expect(strict.counters.refusedAcks).toBe(1);

    const preferred = boot(pairDevice(nodeA));
    const changes: boolean[] = [];
    const loose = new MirrorSource(preferred, {
      mode: 'preferred',
      onDegraded: (degraded) => changes.push(degraded),
    });
    preferred.start();
    const port = new LocalPort(openMirror(pairDevice(nodeB)));
    await loose.connected(port);
    port.down = true;
    expect(await emit(preferred, 'disk.failed')).toBeGreaterThan(0);
    expect(loose.counters.degradedAcks).toBe(1);
    expect(changes).toEqual([false, true]);
    // back: the mirror is brought up to date from the head, the event emitted meanwhile too
    port.down = false;
    await loose.connected(port);
    expect(port.mirror.pending().map((event) => event.record.type)).toEqual(['disk.failed']);
    loose.close();
  });
});

describe('the partner mirror', () => {
  test('refuses a damaged record and another partner, and keeps what it holds', async () => {
    const { a, mirror, port, source } = await mirroredPair();
    await emit(a, 'disk.failed', 'one');
    const update = port.updates.at(-1);
    const part = update?.fifos.find((fifo) => fifo.records.length > 0);
    expect(part).toBeDefined();
    const damaged = (part?.records[0] as Uint8Array).slice();
    damaged[70] = (damaged[70] as number) ^ 1;
    const held = mirror.describe();
    const next = { ...part!, from: part!.from + 1, records: [damaged] };
    expect(() => mirror.apply({ ...update!, fifos: [next] })).toThrow(
      expect.objectContaining({ code: 'BAD_ARGUMENT' }),
    );
    // one that would skip past what the mirror holds is refused before anything moves
    const skipping = { ...part!, from: part!.from + 5, records: [damaged] };
    expect(() => mirror.apply({ ...update!, fifos: [skipping] })).toThrow(
      expect.objectContaining({ code: 'BAD_ARGUMENT' }),
    );
    expect(mirror.describe()).toEqual(held);
    expect(() => mirror.apply({ ...update!, node: idOf(0xc3n) })).toThrow(NodeError);
    expect(() => mirror.apply({ ...update!, node: idOf(0xc3n) })).toThrow(
      expect.objectContaining({ code: 'MIRROR_PARTNER' }),
    );
    expect(mirror.pending().map((event) => event.record.type)).toEqual(['disk.failed']);
    source.close();
  });

  test('survives a reboot with its records, confirmations and recipient names', async () => {
    const a = boot(pairDevice(nodeA));
    const seen = new Map<string, Seen[]>();
    withRecipients(a, seen, false);
    const bDevice = pairDevice(nodeB);
    const port = new LocalPort(openMirror(bDevice));
    const source = new MirrorSource(a);
    a.start();
    await source.connected(port);
    await emit(a, 'disk.failed', 'one');
    await emit(a, 'fan.slow', 'two');
    a.drain(); // audit confirms both, pager holds disk.failed
    await source.syncState();
    const mirror = openMirror(rebootDurable(bDevice));
    expect(mirror.partner).toBe(idOf(nodeA));
    expect(
      mirror.pending().map((event) => [event.record.type, event.owed, event.confirmed]),
    ).toEqual([['disk.failed', ['pager'], ['audit']]]);
    source.close();
  });
});

/** Runs the node's drains until `done` settles (manual scheduling), bounded. */
async function pump<T>(node: Node, done: Promise<T>): Promise<T> {
  let finished = false;
  void done.then(() => (finished = true));
  for (let turn = 0; turn < 200 && !finished; turn++) {
    node.drain();
    await settle();
  }
  expect(finished).toBe(true);
  return done;
}

describe('takeover and giveback', () => {
  test("the survivor delivers the partner's unfinished events once, then gives them back", async () => {
    const aDevice = pairDevice(nodeA);
    const bDevice = pairDevice(nodeB);
    const a = boot(aDevice);
    const seenA = new Map<string, Seen[]>();
    withRecipients(a, seenA, false); // pager never confirms on A
    const source = new MirrorSource(a);
    a.start();
    await source.connected(new LocalPort(openMirror(bDevice)));
    const d1 = await emit(a, 'disk.failed', 'd1');
    const f1 = await emit(a, 'fan.slow', 'f1');
    a.drain(); // audit confirms d1 and f1 on A; f1 is complete, d1 waits for pager
    const d2 = await emit(a, 'disk.failed', 'd2'); // not delivered on A before it fails
    await source.syncState();
    source.close();
    // A fails: power cut (durable state only)
    const aImage = rebootDurable(aDevice);

    const b = boot(rebootDurable(bDevice));
    const seenB = new Map<string, Seen[]>();
    withRecipients(b, seenB);
    const mux = new Multiplexer(b);
    b.start();
    const mirror = openMirror(b.device as ReturnType<typeof pairDevice>);
    const takeover = new Takeover(mux, mirror, { token: 7n, held: () => true });
    const report = await pump(b, takeover.run());
    expect(report).toMatchObject({ partner: idOf(nodeA), pending: 2, released: 2, fenced: false });
    b.drainUntilIdle();
    const origin = (seq: number): OriginHop[] => [{ node: idOf(nodeA), seq }];
    expect(seenB.get('pager')).toEqual([
      { type: 'disk.failed', seq: expect.any(Number), origin: origin(d1) },
      { type: 'disk.failed', seq: expect.any(Number), origin: origin(d2) },
    ]);
    // audit had confirmed d1 on A: only d2 is owed to it; f1 was complete on A
    expect(seenB.get('audit')?.map((event) => event.origin)).toEqual([origin(d2)]);
    expect(mirror.pending()).toEqual([]);
    expect(f1).toBeGreaterThan(d1);

    // giveback: A returns and retires what B took over before it replays anything
    const given = giveBack(aImage, mirror.handover());
    expect(given.retired.reduce((sum, n) => sum + n, 0)).toBe(3); // d1, f1 (done), d2
    const back = boot(aImage);
    const seenBack = new Map<string, Seen[]>();
    withRecipients(back, seenBack);
    back.start();
    back.drainUntilIdle();
    expect(seenBack.get('pager')).toEqual([]);
    expect(seenBack.get('audit')).toEqual([]);
    const fresh = back.producer('ctl').emitAsync('disk.failed', 'err', enc('d3'));
    back.commit();
    back.drainUntilIdle();
    expect(seenBack.get('pager')?.map((event) => event.seq)).toEqual([await fresh]);
  });

  test('a survivor cut during its takeover records each partner event once', async () => {
    const aDevice = pairDevice(nodeA);
    const bDevice = pairDevice(nodeB);
    const a = boot(aDevice);
    withRecipients(a, new Map(), false);
    const source = new MirrorSource(a);
    a.start();
    await source.connected(new LocalPort(openMirror(bDevice)));
    for (let k = 0; k < 3; k++) await emit(a, 'disk.failed', `d${k}`);
    source.close();

    // B records the events (the group commit durable) and is cut before the mirror releases them
    const b = boot(rebootDurable(bDevice));
    withRecipients(b, new Map());
    const mux = new Multiplexer(b);
    b.start();
    const takeover = new Takeover(mux, openMirror(b.device as ReturnType<typeof pairDevice>), {
      token: 1n,
      held: () => true,
    });
    void takeover.run();
    b.commit(); // the three records durable on B; the custodian not yet delivered
    takeover.stop();
    const cut = rebootDurable(b.device as ReturnType<typeof pairDevice>);

    const again = boot(cut);
    const seen = new Map<string, Seen[]>();
    withRecipients(again, seen);
    const mux2 = new Multiplexer(again);
    again.start();
    expect(mux2.held).toBe(3); // rebuilt from the pending records
    const report = await pump(
      again,
      new Takeover(mux2, openMirror(cut), { token: 2n, held: () => true }).run(),
    );
    expect(report).toMatchObject({ pending: 3, released: 3 });
    again.drainUntilIdle();
    expect(mux2.counters.duplicates).toBe(3); // recognised, not recorded again
    expect(seen.get('pager')?.map((event) => event.origin[0]?.seq)).toHaveLength(3);
    expect(new Set(seen.get('pager')?.map((event) => event.origin[0]?.seq)).size).toBe(3);
  });

  test('a survivor whose lease is lost takes nothing more from the mirror', async () => {
    const a = boot(pairDevice(nodeA));
    const bDevice = pairDevice(nodeB);
    const source = new MirrorSource(a);
    a.start();
    await source.connected(new LocalPort(openMirror(bDevice)));
    await emit(a, 'disk.failed', 'one');
    source.close();
    const b = boot(rebootDurable(bDevice));
    const mux = new Multiplexer(b);
    b.start();
    const mirror = openMirror(b.device as ReturnType<typeof pairDevice>);
    const report = await new Takeover(mux, mirror, { token: 3n, held: () => false }).run();
    expect(report).toMatchObject({ fenced: true, released: 0 });
    expect(mux.counters.recorded).toBe(0);
    expect(mirror.pending()).toHaveLength(1);
  });
});
