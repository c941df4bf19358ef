/**
 * The HA pair as operators run it [193]: two `nvrelay serve` processes mirroring each other,
 * their stream leases on a real etcd, a producer on node A and the same recipient on both.
 * A is killed with SIGKILL at seeded moments, its interconnect to B is cut by a proxy the test
 * controls; B takes A's events over after A's lease expires; A returns, takes its stream back
 * (giveback) and carries on. Checked from the processes' own lines: every acknowledged event
 * reaches the recipient (once A's, or taken over by B: one stream per origin), and A delivers
 * nothing after a giveback that B had delivered (and the recipient confirmed).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort, startEtcd, type EtcdServer } from '../ha/etcd-server.js';
import { killAll, prng, role, sleep, start, waitFor, type Role } from './processes.js';

/** A TCP proxy on loopback that the test can cut (every connection dropped, new ones refused). */
class Proxy {
  readonly server: Server;
  readonly sockets = new Set<Socket>();
  cut = false;
  constructor(target: number) {
    this.server = createServer((client) => {
      if (this.cut) {
        client.destroy();
        return;
      }
      const upstream = connect(target, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => {});
        socket.on('close', () => {
          this.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }
  listen(port: number): Promise<void> {
    return new Promise((resolve) => this.server.listen(port, '127.0.0.1', resolve));
  }
  partition(): void {
    this.cut = true;
    for (const socket of this.sockets) socket.destroy();
  }
  heal(): void {
    this.cut = false;
  }
  close(): void {
    this.partition();
    this.server.close();
  }
}

let etcd: EtcdServer;
const dir = mkdtempSync(join(tmpdir(), 'nvrelay-ha-'));
beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  killAll();
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Delivery {
  /** (origin node, origin seq), or this daemon's own seq. */
  key: string;
  at: number;
}

/** The recipient's D lines: `D pager SEQ TYPE [via NODE:SEQ>...]`, keyed by origin. */
function deliveries(tail: Role, own: string): Delivery[] {
  return tail.lines.flatMap((line, at) => {
    const match = /^D pager (\d+) \S+(?: via ([0-9a-f]{16}):(\d+))?/.exec(line);
    if (match === null) return [];
    return [{ key: match[2] === undefined ? `${own}:${match[1]}` : `${match[2]}:${match[3]}`, at }];
  });
}

describe('an HA pair of nvrelay serve processes on a real etcd', () => {
  test('kill -9 of a node and a cut interconnect: takeover, giveback, nothing lost, nothing given back twice', async () => {
    const [listenA, listenB, proxyPort] = [await freePort(), await freePort(), await freePort()];
    const proxy = new Proxy(listenB); // A's interconnect to B goes through the proxy
    await proxy.listen(proxyPort);
    const lease = { kind: 'etcd', endpoints: [etcd.url] };
    const recipients = { pager: { prefixes: ['disk.'], retry: { timeoutMs: 300 } } };
    const config = (listen: number, partner: number): string =>
      JSON.stringify({
        recipients,
        heartbeatMs: 500,
        partner: {
          listen: `127.0.0.1:${listen}`,
          address: `127.0.0.1:${partner}`,
          mirror: 'required',
          lease,
          leaseTtlMs: 1000,
        },
      });
    writeFileSync(join(dir, 'a.json'), config(listenA, proxyPort));
    writeFileSync(join(dir, 'b.json'), config(listenB, listenA));
    const serve = (name: string): Role =>
      role(`node-${name}`, [
        'serve',
        join(dir, `${name}.nvram`),
        '--socket',
        join(dir, `${name}.sock`),
        '--config',
        join(dir, `${name}.json`),
        '--log-format',
        'json',
      ]);
    const a = serve('a');
    const b = serve('b');
    const tailA = role('tail-a', ['tail', '--socket', join(dir, 'a.sock'), '--name', 'pager']);
    const tailB = role('tail-b', ['tail', '--socket', join(dir, 'b.sock'), '--name', 'pager']);
    const producer = role('emit', [
      'emit',
      '--socket',
      join(dir, 'a.sock'),
      '--type',
      'disk.failed',
      '--severity',
      'err',
      '--count',
      '100000',
      '--window',
      '4',
    ]);
    start(a);
    start(b);
    const listening = (node: Role): boolean =>
      node.lines.some((line) => line.includes('"listening"'));
    expect(await waitFor(() => listening(a) && listening(b), 15_000)).toBe(true);
    const nodeId = (node: Role): string =>
      /"pair":"([0-9a-f]{16})"/.exec(node.lines.join('\n'))?.[1] ?? '';
    start(tailA);
    start(tailB);
    start(producer);
    const random = prng(20261205);
    // the recipients' line counts when A came back after each kill (a giveback)
    const restarts: { a: number; b: number }[] = [];
    for (let round = 0; round < 3; round++) {
      await sleep(300 + random() * 300);
      // the recipient away from A: A's events stay pending, owed to it, when A dies
      tailA.loop = false;
      tailA.child?.kill('SIGKILL');
      await sleep(400 + random() * 400);
      if (round === 1) {
        proxy.partition(); // the interconnect cut: A's acks are refused until it heals
        await sleep(500);
        proxy.heal();
      }
      const takeovers = b.lines.filter((line) => line.includes('takeover: done')).length;
      a.child?.kill('SIGKILL');
      a.kills++;
      // B takes over once A's lease (1 s) has expired
      await waitFor(
        () => b.lines.filter((line) => line.includes('takeover: done')).length > takeovers,
        8_000,
      );
      await sleep(300);
      restarts.push({ a: tailA.lines.length, b: tailB.lines.length });
      start(a);
      await waitFor(
        () => a.lines.filter((line) => line.includes('"listening"')).length > round + 1,
        15_000,
      );
      tailA.loop = true;
      if (tailA.child === null) start(tailA);
      if (producer.child === null) start(producer);
    }
    await sleep(800);
    producer.loop = false;
    producer.child?.kill('SIGKILL');
    await waitFor(() => producer.child === null, 5_000);

    const idA = nodeId(a);
    const idB = nodeId(b);
    const acked = new Set(
      producer.lines.flatMap((line) => {
        const match = /^A (\d+)$/.exec(line);
        return match === null ? [] : [`${idA}:${match[1]}`];
      }),
    );
    const seen = (): Set<string> =>
      new Set([...deliveries(tailA, idA), ...deliveries(tailB, idB)].map((d) => d.key));
    const complete = await waitFor(() => [...acked].every((key) => seen().has(key)), 20_000);
    const missing = [...acked].filter((key) => !seen().has(key));
    for (const node of [a, b, tailA, tailB]) {
      node.loop = false;
      node.child?.kill('SIGTERM');
    }
    await waitFor(() => [a, b, tailA, tailB].every((node) => node.child === null), 5_000);
    const report = `a: ${a.errors.join('').slice(0, 600)}\nb: ${b.errors.join('').slice(0, 600)}`;

    expect(idA, report).toMatch(/^[0-9a-f]{16}$/);
    expect(acked.size, report).toBeGreaterThan(30);
    const logged = (node: Role, msg: string): Record<string, unknown>[] =>
      node.lines
        .filter((line) => line.includes(`"msg":"${msg}"`))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    const released = logged(b, 'takeover: done').reduce((n, t) => n + Number(t['released']), 0);
    const retired = logged(a, 'giveback: records the partner recorded').reduce(
      (n, g) => n + (g['retired'] as number[]).reduce((x, y) => x + y, 0),
      0,
    );
    expect(logged(b, 'takeover: done').length, report).toBe(a.kills); // one takeover a kill
    expect(released, report).toBeGreaterThan(0); // B delivered some of A's events
    expect(retired, report).toBeGreaterThanOrEqual(released); // and A gave them all back
    expect(missing.slice(0, 10), `missing of ${acked.size}\n${report}`).toEqual([]);
    expect(complete).toBe(true);
    // giveback: what B delivered of A's stream before A came back, A never delivers again
    const again = restarts.flatMap((restart, k) => {
      const byB = new Set(
        deliveries(tailB, idB)
          .filter((d) => d.at < restart.b)
          .map((d) => d.key),
      );
      const until = restarts[k + 1]?.a ?? Infinity;
      return deliveries(tailA, idA).filter(
        (d) => d.at >= restart.a && d.at < until && byB.has(d.key),
      );
    });
    expect(again.map((d) => d.key)).toEqual([]);
    expect(deliveries(tailB, idB).length).toBeGreaterThan(0);
    proxy.close();
  });
});
