/**
 * The daemon's part of an HA pair [193] (PairService, src/ha/pair-service.ts), two nodes in one
 * process over a loopback interconnect with a lease file: prepare holds the node's own lease
 * before the boot, attach and start mirror its emits to the partner and watch the partner's
 * stream; when one node stops, the other takes its events over, and when it prepares again it
 * gets its stream back over the interconnect (giveback) and replays nothing the survivor
 * delivered. Also: the coordinator named by the config (a lease file, or etcd when installed),
 * the interconnect addresses, a lease file of the wrong shape refused at prepare, and a node
 * whose own lease runs out says so and stops (self-fence).
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { afterAll, describe, expect, test } from 'vitest';
import { parseConfig, type PartnerConfig } from '../../src/daemon/config.js';
import { EtcdLeases } from '../../src/ha/etcd-lease.js';
import { FileLeases } from '../../src/ha/file-lease.js';
import { PairService, openLeases, parseAddress } from '../../src/ha/pair-service.js';
import { Multiplexer } from '../../src/mux/multiplexer.js';
import { Node } from '../../src/node/node.js';
import type { TracedNvram } from '../../src/nvram/index.js';
import type { OriginHop } from '../../src/events/origin.js';
import { ManualClock, rebootDurable } from '../engine/harness.js';
import { freePort } from '../loopback.js';
import { etcdInstalled, startEtcd } from './etcd-server.js';
import { idOf, keptLog, nodeA, nodeB, pairDevice, until, type LogLine } from './pair.js';

const dir = mkdtempSync(join(tmpdir(), 'nvrelay-pair-service-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function leasePath(): string {
  files += 1;
  return join(dir, `leases-${files}.json`);
}

const a = idOf(nodeA);
const b = idOf(nodeB);

function partnerConfig(partner: Record<string, unknown>): PartnerConfig {
  return parseConfig({ partner }).partner as PartnerConfig;
}

/** A node's config: listens on `listen`, its partner on `address`, leases in `path`. */
function pairConfig(listen: number, address: number, path: string): PartnerConfig {
  return partnerConfig({
    listen: `127.0.0.1:${listen}`,
    address: `127.0.0.1:${address}`,
    mirror: 'preferred',
    lease: { kind: 'file', path },
    leaseTtlMs: 300,
  });
}

/** The messages one node of the pair logged, in order. */
const said = (lines: LogLine[], node: string): string[] =>
  lines.filter((line) => line.pair === node).map((line) => line.msg);

/** A node booted for a service (auto scheduling), its `pager` confirming or not. */
function boot(device: TracedNvram, confirms: boolean): { node: Node; origins: OriginHop[][] } {
  const node = Node.boot(device);
  const origins: OriginHop[][] = [];
  node.registerRecipient('pager', {}, (event, recipient) => {
    origins.push(event.origin());
    if (confirms) recipient.confirm(event.seq);
  });
  return { node, origins };
}

interface Served {
  service: PairService;
  node: Node;
  origins: OriginHop[][];
}

/** The daemon's order: prepare, boot, attach, start the node, then the pair. */
async function serve(
  config: PartnerConfig,
  device: TracedNvram,
  log: Logger,
  confirms: boolean,
): Promise<Served> {
  const service = await PairService.prepare(config, device, log);
  const { node, origins } = boot(device, confirms);
  service.attach(node, new Multiplexer(node));
  node.start();
  await service.start();
  return { service, node, origins };
}

describe('parseAddress', () => {
  test('splits HOST:PORT at the last colon, and unwraps a bracketed IPv6 host', () => {
    expect(parseAddress('127.0.0.1:7001')).toEqual({ host: '127.0.0.1', port: 7001 });
    expect(parseAddress('[::1]:7002')).toEqual({ host: '::1', port: 7002 });
    expect(parseAddress('localhost:0')).toEqual({ host: 'localhost', port: 0 });
  });
});

describe('openLeases', () => {
  test('a lease file: the path and the TTL of the config', async () => {
    const path = leasePath();
    const leases = openLeases(
      partnerConfig({
        listen: '127.0.0.1:7001',
        address: '127.0.0.1:7002',
        lease: { kind: 'file', path },
        leaseTtlMs: 1500,
      }),
    );
    expect(leases).toBeInstanceOf(FileLeases);
    expect(leases.ttlMs).toBe(1500);
    const grant = await leases.acquire(a, a);
    await leases.close();
    const other = new FileLeases(path, { ttlMs: 1500 });
    expect(await other.current(a)).toEqual({ holder: a, token: grant?.token });
    await other.close();
  });

  test('etcd: a TTL that is not whole seconds is refused (BAD_ARGUMENT)', () => {
    const config = partnerConfig({
      listen: '127.0.0.1:7001',
      address: '127.0.0.1:7002',
      lease: { kind: 'etcd', endpoints: ['http://127.0.0.1:2379'] },
      leaseTtlMs: 1500,
    });
    expect(() => openLeases(config)).toThrow(expect.objectContaining({ code: 'BAD_ARGUMENT' }));
  });

  test.skipIf(!etcdInstalled)('etcd: grants on the endpoints of the config', async () => {
    const etcd = await startEtcd();
    try {
      const leases = openLeases(
        partnerConfig({
          listen: '127.0.0.1:7001',
          address: '127.0.0.1:7002',
          lease: { kind: 'etcd', endpoints: [etcd.url] },
          leaseTtlMs: 1000,
        }),
      );
      expect(leases).toBeInstanceOf(EtcdLeases);
      const grant = await leases.acquire(b, b);
      await leases.close();
      const other = new EtcdLeases({ hosts: etcd.url, ttlMs: 1000 });
      expect(await other.current(b)).toEqual({ holder: b, token: grant?.token });
      await other.close();
    } finally {
      await etcd.stop();
    }
  });
});

describe('PairService', () => {
  test('a stopped node is taken over by its partner, then prepares to get its stream back', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const path = leasePath();
    const configA = pairConfig(portA, portB, path);
    const configB = pairConfig(portB, portA, path);
    const { log, lines } = keptLog();
    const leases = new FileLeases(path, { ttlMs: 300 });

    const survivor = await serve(configB, pairDevice(nodeB), log, true);
    expect(survivor.service.port).toBe(portB);
    const aDevice = pairDevice(nodeA);
    const first = await serve(configA, aDevice, log, false);
    expect(await leases.current(a)).toEqual({
      holder: a,
      token: first.service.own?.grant.token,
    });
    await until(() => first.service.source?.up === true, 2000, 'the mirror link up');
    const seqs: number[] = [];
    for (const type of ['disk.failed', 'fan.slow'])
      seqs.push(await first.node.producer('raid').emitAsync(type, 'err'));
    expect(first.service.source?.counters.degradedAcks).toBe(0);
    expect(survivor.service.mirror?.pending().map((event) => event.record.seq)).toEqual(seqs);

    // A stops (its lease released): B takes its two pending events over
    await first.service.stop();
    first.node.close();
    const pair = survivor.service.pair;
    await until(() => pair?.lastTakeover != null, 3000, 'the takeover');
    expect(pair?.lastTakeover).toMatchObject({ partner: a, pending: 2, released: 2 });
    await until(() => survivor.origins.length === 2, 2000, 'delivered by B');
    expect(survivor.origins).toEqual(seqs.map((seq) => [{ node: a, seq }]));
    const taken = await leases.current(a);
    expect(taken?.holder).toBe(b);

    // A prepares again: the last grant on its stream went to B, so it asks B for it back
    const image = rebootDurable(aDevice);
    const back = await PairService.prepare(configA, image, log);
    const aSaid = said(lines, a);
    expect(aSaid.slice(-3)).toEqual([
      'the partner took this stream over: asking for it back before replaying',
      'giveback: records the partner recorded',
      'own stream lease held',
    ]);
    const retired = lines.filter((line) => line.msg === 'giveback: records the partner recorded');
    expect(retired.at(-1)?.['retired']).toEqual([0, 2]);
    expect(back.own?.grant.token).toBeGreaterThan(taken!.token);
    expect(await leases.current(a)).toEqual({ holder: a, token: back.own?.grant.token });
    expect(pair?.holdsPartner).toBe(false);

    // its boot replays nothing of what B delivered
    const again = Node.boot(image, { scheduling: 'manual', clock: new ManualClock() });
    const replayed: number[] = [];
    again.registerRecipient('pager', {}, (event) => replayed.push(event.seq));
    back.attach(again, new Multiplexer(again));
    again.start();
    again.drainUntilIdle();
    expect(replayed).toEqual([]);
    await back.start();
    await until(() => back.source?.up === true, 2000, 'the mirror link up again');

    // B stops: A, whose mirror mode is 'preferred', runs on without the mirror and says so
    await survivor.service.stop();
    survivor.node.close();
    expect(await leases.current(b)).toBeNull();
    await until(() => back.source?.up === false, 2000, 'the mirror link down');
    const down = lines.find(
      (line) => line.pair === a && line.msg === 'mirror link down: running without the mirror',
    );
    expect(down).toMatchObject({ level: 50, reason: 'the interconnect to the partner is down' });

    await back.stop();
    again.close();
    expect(await leases.current(a)).toBeNull();
    await leases.close();
  });

  test('a lease file of the wrong shape stops prepare with LEASE_CORRUPT, the file kept', async () => {
    const path = leasePath();
    writeFileSync(path, '{"token": "7", "streams": ');
    const { log } = keptLog();
    const config = pairConfig(await freePort(), await freePort(), path);
    await expect(PairService.prepare(config, pairDevice(nodeA), log)).rejects.toMatchObject({
      code: 'LEASE_CORRUPT',
      message: expect.stringContaining(path),
    });
    expect(readFileSync(path, 'utf8')).toBe('{"token": "7", "streams": ');
  });

  test('a node whose own lease runs out says so once and stops; stopped unattached, it releases', async () => {
    const path = leasePath();
    const { log, lines } = keptLog();
    const config = pairConfig(await freePort(), await freePort(), path);
    const service = await PairService.prepare(config, pairDevice(nodeA), log);
    expect(service.port).toBe(0); // not listening before start
    let stops = 0;
    service.onOwnLeaseLost = () => (stops += 1);
    writeFileSync(`${path}.lock`, `${process.pid}\n`); // a coordinator that hangs
    await until(() => stops > 0, 2000, 'the self-fence');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(stops).toBe(1);
    expect(lines.filter((line) => line.level === 60).map((line) => line.msg)).toEqual([
      'the lease on this node stream was lost: stopping (self-fence)',
    ]);
    rmSync(`${path}.lock`);

    const other = await PairService.prepare(config, pairDevice(nodeB), log);
    const leases = new FileLeases(path, { ttlMs: 300 });
    expect(await leases.current(b)).toEqual({ holder: b, token: other.own?.grant.token });
    await other.stop(); // before attach: the own lease is released all the same
    expect(await leases.current(b)).toBeNull();
    expect(await leases.last(b)).toEqual({ holder: b, token: other.own?.grant.token });
    await service.stop();
    await leases.close();
  });
});
