/**
 * The boot of a node of an HA pair [193] (src/ha/pair.ts), before it replays [191, 192]: it
 * asks for its stream back only when the last grant on it went to the partner, waits for the
 * partner's answer (retrying, and saying so once, not at every try), and then retires unreplayed
 * what the partner took over; and it waits for its own lease while another holder's grant runs.
 * Leases in a lease file (no server), with grants that outlast each test unless released.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { FileLeases } from '../../src/ha/file-lease.js';
import type { Handover } from '../../src/ha/mirror-update.js';
import { acquireWaiting, prepareGiveback } from '../../src/ha/pair.js';
import { Takeover } from '../../src/ha/takeover.js';
import { Multiplexer } from '../../src/mux/multiplexer.js';
import { Node } from '../../src/node/node.js';
import type { TracedNvram } from '../../src/nvram/index.js';
import { ManualClock, rebootDurable } from '../engine/harness.js';
import { idOf, keptLog, mirroredEvents, nodeA, nodeB, openMirror } from './pair.js';

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-pair-boot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function leaseFile(): FileLeases {
  files += 1;
  return new FileLeases(join(dir, `leases-${files}.json`), { ttlMs: 60_000 });
}

const self = idOf(nodeA);
const partner = idOf(nodeB);

/** Events node A emitted, pending there, that B took over from its mirror: B's handover. */
async function takenOver(types: readonly string[]) {
  const { aDevice, bDevice, seqs } = await mirroredEvents(types);
  const b = Node.boot(rebootDurable(bDevice));
  const mux = new Multiplexer(b);
  b.start();
  const mirror = openMirror(b.device as TracedNvram);
  const report = await new Takeover(mux, mirror, { token: 1n, held: () => true }).run();
  expect(report).toMatchObject({ pending: seqs.length, released: seqs.length });
  const handover = mirror.handover();
  b.close();
  return { aImage: rebootDurable(aDevice), handover, seqs };
}

/** The seqs node A's `pager` is given when A boots on `device` (replay included). */
function replayed(device: TracedNvram): number[] {
  const node = Node.boot(device, { scheduling: 'manual', clock: new ManualClock() });
  const seen: number[] = [];
  node.registerRecipient('pager', {}, (event) => seen.push(event.seq));
  node.start();
  node.drainUntilIdle();
  node.close();
  return seen;
}

describe('prepareGiveback', () => {
  test('asks nothing when nobody, or this node itself, had the stream last', async () => {
    const leases = leaseFile();
    const { log, lines } = keptLog();
    let asked = 0;
    const ask = (): Promise<Handover> => {
      asked += 1;
      return Promise.reject(new Error('not to be asked'));
    };
    const { aDevice } = await mirroredEvents(['disk.failed']);
    const options = { device: aDevice, leases, self, ask, log };
    expect(await prepareGiveback(options)).toBeNull(); // no grant ever
    const own = await leases.acquire(self, self);
    expect(own).not.toBeNull();
    expect(await prepareGiveback(options)).toBeNull(); // held by itself
    await leases.release(own!);
    expect(await prepareGiveback(options)).toBeNull(); // last granted to itself
    expect(asked).toBe(0);
    expect(lines).toEqual([]);
    await leases.close();
  });

  test("retires what the partner took over, after waiting for the partner's answer", async () => {
    const { aImage, handover, seqs } = await takenOver(['disk.failed', 'fan.slow']);
    // without the giveback, this boot would replay both events: the test below can fail
    expect(replayed(rebootDurable(aImage))).toEqual(seqs);

    const leases = leaseFile();
    const grant = await leases.acquire(self, partner); // the partner took the stream over
    const { log, lines } = keptLog();
    let asked = 0;
    const ask = (): Promise<Handover> => {
      asked += 1;
      return asked < 3
        ? Promise.reject(new Error('partner not listening'))
        : Promise.resolve(handover);
    };
    const report = await prepareGiveback({ device: aImage, leases, self, ask, log });
    expect(asked).toBe(3);
    expect(report?.retired.reduce((sum, n) => sum + n, 0)).toBe(seqs.length);
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [40, 'the partner took this stream over: asking for it back before replaying'],
      [50, 'giveback: waiting for the partner to answer'], // once, at the first failed try
      [30, 'giveback: records the partner recorded'],
    ]);
    expect(lines[0]).toMatchObject({ holder: partner, token: String(grant?.token) });
    expect(lines[1]?.['err']).toMatchObject({ message: 'partner not listening' });
    expect(lines[2]?.['retired']).toEqual(report?.retired);
    expect(replayed(rebootDurable(aImage))).toEqual([]);
    await leases.close();
  });

  test("a stopped boot gives up on the partner with the partner's error, the FIFOs unchanged", async () => {
    const { aDevice, seqs } = await mirroredEvents(['disk.failed']);
    const aImage = rebootDurable(aDevice);
    const leases = leaseFile();
    await leases.acquire(self, partner);
    const { log, lines } = keptLog();
    const refused = new Error('the partner did not answer the giveback within 5000 ms');
    const giving = prepareGiveback({
      device: aImage,
      leases,
      self,
      ask: () => Promise.reject(refused),
      log,
      stopped: () => true,
    });
    await expect(giving).rejects.toBe(refused);
    expect(lines.map((line) => line.msg)).toEqual([
      'the partner took this stream over: asking for it back before replaying',
    ]);
    expect(replayed(aImage)).toEqual(seqs);
    await leases.close();
  });
});

describe('acquireWaiting', () => {
  test("waits out another holder's grant, asking `before` each time, and says so once", async () => {
    const leases = leaseFile();
    const other = await leases.acquire(self, partner);
    const { log, lines } = keptLog();
    let tries = 0;
    const releaseLater = setTimeout(() => void leases.release(other!), 500);
    const keeper = await acquireWaiting(
      leases,
      self,
      self,
      () => {},
      log,
      () => {
        tries += 1;
        return Promise.resolve();
      },
    );
    clearTimeout(releaseLater);
    expect(tries).toBeGreaterThanOrEqual(3); // 0 ms, 200 ms, 400 ms refused; then granted
    expect(keeper.grant.holder).toBe(self);
    expect(keeper.grant.token).toBeGreaterThan(other!.token);
    expect(await leases.current(self)).toEqual({ holder: self, token: keeper.grant.token });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      msg: 'waiting for the lease',
      stream: self,
      holder: partner,
    });
    await keeper.release();
    await leases.close();
  });

  test('takes a free stream at once, without a word', async () => {
    const leases = leaseFile();
    const { log, lines } = keptLog();
    const keeper = await acquireWaiting(leases, self, self, () => {}, log);
    expect(keeper.held()).toBe(true);
    expect(await leases.last(self)).toEqual({ holder: self, token: keeper.grant.token });
    expect(lines).toEqual([]);
    await keeper.release();
    expect(await leases.current(self)).toBeNull();
    await leases.close();
  });
});
