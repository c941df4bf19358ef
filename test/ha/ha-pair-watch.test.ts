/**
 * A running node of an HA pair watching its partner's stream [193] (HaPair, src/ha/pair.ts):
 * no takeover while the partner renews its lease; once the lease runs out, the survivor takes
 * the stream with a greater token and delivers the partner's pending events; when that lease is
 * lost the takeover stops, and a coordinator that does not answer is said, not fatal; a
 * giveback hands back heads that cover everything recorded, with the grant released, also
 * after the survivor's reboot. Leases in a lease file (no server), TTL 300 ms: the watch looks
 * every 100 ms.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { OriginHop } from '../../src/events/origin.js';
import { FileLeases } from '../../src/ha/file-lease.js';
import { giveBack } from '../../src/ha/giveback.js';
import { LeaseKeeper, type LeaseGrant } from '../../src/ha/lease.js';
import { HaPair, acquireWaiting } from '../../src/ha/pair.js';
import type { PartnerMirror } from '../../src/ha/partner-mirror.js';
import { Takeover } from '../../src/ha/takeover.js';
import { Multiplexer } from '../../src/mux/multiplexer.js';
import { Node } from '../../src/node/node.js';
import type { TracedNvram } from '../../src/nvram/index.js';
import { ManualClock, rebootDurable } from '../engine/harness.js';
import {
  idOf,
  keptLog,
  LeasesThrough,
  mirroredEvents,
  nodeA,
  nodeB,
  openMirror,
  pairDevice,
  until,
  type LogLine,
} from './pair.js';

const ttlMs = 300;
const a = idOf(nodeA);
const b = idOf(nodeB);
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-ha-watch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function leasePath(): string {
  files += 1;
  return join(dir, `leases-${files}.json`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const messages = (lines: LogLine[]): string[] => lines.map((line) => line.msg);
const failed = 'the partner failed: taking its events over [193]';

/** Node B booted on its device (auto scheduling) with a confirming `pager`, and its mirror. */
function survivor(device: TracedNvram): {
  node: Node;
  mux: Multiplexer;
  mirror: PartnerMirror;
  origins: OriginHop[][];
} {
  const node = Node.boot(device);
  const origins: OriginHop[][] = [];
  node.registerRecipient('pager', {}, (event, recipient) => {
    origins.push(event.origin());
    recipient.confirm(event.seq);
  });
  const mux = new Multiplexer(node);
  node.start();
  return { node, mux, mirror: openMirror(device), origins };
}

/** A coordinator whose acquires wait, while held, for `answer()`; it lists them by stream. */
class HeldCoordinator extends LeasesThrough {
  readonly acquired: string[] = [];
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => {};

  /** From now on, acquires wait for `answer`. */
  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }
  answer(): void {
    this.#open();
  }
  override acquire(stream: string, holder: string): Promise<LeaseGrant | null> {
    this.acquired.push(stream);
    return this.#gate.then(() => this.inner.acquire(stream, holder));
  }
}

describe('HaPair watching the partner', () => {
  test("takes the stream over once the partner's lease runs out, and gives it back", async () => {
    const { aDevice, bDevice, seqs } = await mirroredEvents(['disk.failed', 'fan.slow']);
    const { node, mux, mirror, origins } = survivor(rebootDurable(bDevice));
    const leases = new FileLeases(leasePath(), { ttlMs });
    const { log, lines } = keptLog();
    const partnerKeeper = await LeaseKeeper.acquire(leases, a, a, { onLost: () => {} });
    const own = await acquireWaiting(leases, b, b, () => {}, log);
    const pair = new HaPair({ self: b, leases, mux, mirror, log });
    pair.start(own);

    await sleep(2 * ttlMs); // several watches, the TTL twice over: the partner renews
    expect(pair.holdsPartner).toBe(false);
    expect(pair.lastTakeover).toBeNull();
    expect(await leases.current(a)).toEqual({ holder: a, token: partnerKeeper!.grant.token });
    expect(messages(lines)).toEqual([]);

    partnerKeeper!.stop(); // the partner fails: no renewal any more
    await until(() => pair.lastTakeover !== null, 3000, 'the takeover');
    const taken = await leases.current(a);
    expect(taken?.holder).toBe(b);
    expect(taken!.token).toBeGreaterThan(partnerKeeper!.grant.token);
    expect(pair.holdsPartner).toBe(true);
    expect(pair.lastTakeover).toEqual({
      partner: a,
      token: taken!.token,
      pending: seqs.length,
      released: seqs.length,
      fenced: false,
    });
    expect(messages(lines)).toEqual([failed, 'takeover: done']);
    expect(lines[0]).toMatchObject({ level: 40, partner: a, token: String(taken!.token) });
    expect(lines[1]).toMatchObject({ pending: seqs.length, token: String(taken!.token) });
    await until(() => origins.length === seqs.length, 2000, "the partner's events delivered");
    expect(origins).toEqual(seqs.map((seq) => [{ node: a, seq }]));

    await expect(pair.giveback(idOf(0xc3n))).rejects.toThrow(
      `node ${idOf(0xc3n)} is not this node's partner`,
    );
    expect(pair.holdsPartner).toBe(true);
    const handover = await pair.giveback(a);
    expect(handover.heads).toEqual(mirror.describe().map((fifo) => fifo.tail));
    expect(pair.holdsPartner).toBe(false);
    expect(await leases.current(a)).toBeNull();
    expect(await leases.last(a)).toEqual({ holder: b, token: taken!.token });
    // the returning partner retires every event the survivor delivered
    expect(giveBack(rebootDurable(aDevice), handover).retired).toEqual([0, seqs.length]);
    // the stream stays free for the returning partner for one lease time, though the watch
    // looks every 100 ms (else it could take it again before the partner acquires it)
    await sleep(ttlMs / 2);
    expect(pair.holdsPartner).toBe(false);
    expect(await leases.current(a)).toBeNull();
    // a partner that never takes it is taken over again once that time has passed
    await until(() => pair.holdsPartner, 3000, 'the takeover after the hold-off');
    expect((await leases.current(a))?.holder).toBe(b);

    await pair.close();
    expect(await leases.current(b)).toBeNull(); // its own lease released too
    node.close();
    await leases.close();
  });

  test('a lost partner lease stops the takeover; a hung coordinator is said, then retried', async () => {
    const { bDevice } = await mirroredEvents(['disk.failed']);
    const { node, mux, mirror } = survivor(rebootDurable(bDevice));
    const path = leasePath();
    const leases = new FileLeases(path, { ttlMs, timeoutMs: 100 });
    const { log, lines } = keptLog();
    let ownLost = 0;
    const own = await acquireWaiting(leases, b, b, () => (ownLost += 1), log);
    const pair = new HaPair({ self: b, leases, mux, mirror, log });
    pair.start(own); // nobody holds the partner's stream: taken at the first watch
    await until(() => pair.lastTakeover !== null, 2000, 'the takeover');
    const first = pair.lastTakeover!.token;

    writeFileSync(`${path}.lock`, `${process.pid}\n`); // a live owner that never lets go
    await until(() => !pair.holdsPartner, 2000, 'the partner lease lost');
    expect(lines.map((line) => line.msg)).toContain(
      'the lease on the partner stream was lost: takeover stopped',
    );
    await until(
      () => messages(lines).includes('takeover: the coordinator did not answer'),
      2000,
      'the failed watch said',
    );
    const said = lines.find((line) => line.msg === 'takeover: the coordinator did not answer');
    expect(said).toMatchObject({ level: 50, err: { code: 'LEASE_UNAVAILABLE' } });
    await until(() => ownLost > 0, 1000, 'its own lease lost');
    expect(ownLost).toBe(1); // its own lease ran out the same way, said once
    expect(pair.holdsPartner).toBe(false);

    rmSync(`${path}.lock`);
    await until(
      () => messages(lines).filter((msg) => msg === failed).length === 2,
      2000,
      'the second takeover',
    );
    expect(pair.lastTakeover!.token).toBeGreaterThan(first);
    expect(pair.lastTakeover).toMatchObject({ pending: 0, released: 0 }); // all taken before
    expect(await leases.current(a)).toEqual({ holder: b, token: pair.lastTakeover!.token });
    await pair.close();
    expect(await leases.current(a)).toBeNull();
    node.close();
    await leases.close();
  });

  test('watches nothing before the mirror names a partner', async () => {
    const { node, mux, mirror } = survivor(pairDevice(nodeB));
    expect(mirror.partner).toBeNull();
    const coordinator = new HeldCoordinator(new FileLeases(leasePath(), { ttlMs }));
    const { log, lines } = keptLog();
    const own = await acquireWaiting(coordinator, b, b, () => {}, log);
    const pair = new HaPair({ self: b, leases: coordinator, mux, mirror, log });
    pair.start(own);
    await sleep(ttlMs); // three watches
    expect(coordinator.acquired).toEqual([b]);
    expect(lines).toEqual([]);
    await pair.close();
    node.close();
    await coordinator.close();
  });

  test('a grant that arrives after close is released at once, and one watch runs at a time', async () => {
    const { bDevice, seqs } = await mirroredEvents(['disk.failed']);
    const { node, mux, mirror } = survivor(rebootDurable(bDevice));
    const coordinator = new HeldCoordinator(new FileLeases(leasePath(), { ttlMs }));
    const { log, lines } = keptLog();
    const own = await acquireWaiting(coordinator, b, b, () => {}, log);
    const pair = new HaPair({ self: b, leases: coordinator, mux, mirror, log });
    coordinator.hold(); // the coordinator answers late
    pair.start(own);
    await until(() => coordinator.acquired.includes(a), 2000, 'the first watch');
    await sleep(ttlMs); // three more watch periods, while the first acquire waits
    expect(coordinator.acquired.filter((stream) => stream === a)).toHaveLength(1);
    const closed = pair.close();
    coordinator.answer();
    await closed;
    await until(async () => (await coordinator.last(a)) !== null, 2000, 'the late grant');
    await until(async () => (await coordinator.current(a)) === null, 2000, 'its release');
    expect((await coordinator.last(a))?.holder).toBe(b);
    expect(messages(lines)).not.toContain(failed);
    expect(mirror.pending().map((event) => event.record.seq)).toEqual(seqs); // nothing taken
    node.close();
    await coordinator.close();
  });
});

describe('HaPair giveback after the survivor rebooted', () => {
  test('releases from the mirror what it recorded before its reboot, so the heads cover it', async () => {
    const { aDevice, bDevice, seqs } = await mirroredEvents(['disk.failed', 'disk.slow']);
    // B records the partner's events and is cut before its mirror releases them
    const first = Node.boot(rebootDurable(bDevice), {
      scheduling: 'manual',
      clock: new ManualClock(),
    });
    first.registerRecipient('pager', {}, () => {}); // not delivered before the cut
    const firstMux = new Multiplexer(first);
    first.start();
    const takeover = new Takeover(firstMux, openMirror(first.device as TracedNvram), {
      token: 1n,
      held: () => true,
    });
    void takeover.run();
    first.commit();
    takeover.stop();
    const cut = rebootDurable(first.device as TracedNvram);

    const { node, mux, mirror, origins } = survivor(cut);
    expect(mux.held).toBe(seqs.length);
    expect(mirror.pending()).toHaveLength(seqs.length);
    const leases = new FileLeases(leasePath(), { ttlMs });
    const { log } = keptLog();
    const pair = new HaPair({ self: b, leases, mux, mirror, log });
    const handover = await pair.giveback(a);
    expect(mirror.pending()).toEqual([]);
    expect(handover.heads).toEqual(mirror.describe().map((fifo) => fifo.tail));
    expect(giveBack(rebootDurable(aDevice), handover).retired).toEqual([0, seqs.length]);
    await until(() => origins.length === seqs.length, 2000, 'delivered by the survivor');
    expect(origins).toEqual(seqs.map((seq) => [{ node: a, seq }]));
    await pair.close();
    node.close();
    await leases.close();
  });

  test('hands the heads back as they are when it holds nothing of the partner', async () => {
    const { bDevice } = await mirroredEvents(['disk.failed']);
    const { node, mux, mirror } = survivor(rebootDurable(bDevice));
    const leases = new FileLeases(leasePath(), { ttlMs });
    const { log, lines } = keptLog();
    const pair = new HaPair({ self: b, leases, mux, mirror, log });
    const before = mirror.describe();
    const handover = await pair.giveback(a);
    expect(handover).toEqual({ heads: before.map((fifo) => fifo.head), taken: [] });
    expect(mirror.describe()).toEqual(before);
    expect(mirror.pending()).toHaveLength(1); // still the partner's to deliver
    expect(await leases.last(a)).toBeNull();
    expect(lines).toEqual([]);
    await pair.close();
    node.close();
    await leases.close();
  });
});
