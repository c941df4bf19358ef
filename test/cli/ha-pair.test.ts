/**
 * The HA pair as operators run it [193]: two `nvrelay serve` processes mirroring each other,
 * their stream leases on a real etcd, a producer and the same recipient on each. Either node
 * is killed with SIGKILL at seeded moments, A's interconnect to B is cut by a proxy the test
 * controls; the survivor takes the victim's events over once its lease expires; the victim
 * returns, takes its stream back (giveback) and carries on. Checked from the processes' own
 * lines: every acknowledged event reaches the recipient (from its origin, or taken over by the
 * partner: one stream per origin), and a returning node delivers nothing after a giveback that
 * its partner had delivered (and the recipient confirmed).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startEtcd, type EtcdServer } from '../ha/etcd-server.js';
import { freePort } from '../loopback.js';
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

/** One node of the pair with its own recipient and its own producer. */
interface Member {
  name: 'a' | 'b';
  node: Role;
  tail: Role;
  producer: Role;
  id: string;
}

/** When a killed node came back: the recipients' line counts at that moment. */
interface Restart {
  victim: Member;
  survivor: Member;
  /** The survivor's recipient lines when the victim was killed. */
  survivorLinesAtKill: number;
  /** The survivor's recipient lines then: what it had delivered of the victim's stream. */
  survivorLines: number;
  /** The victim's recipient lines then: what it delivers from here on is after the giveback. */
  victimLines: number;
}

describe('an HA pair of nvrelay serve processes on a real etcd', () => {
  test('kill -9 of either node and a cut interconnect: takeover, giveback, nothing lost, nothing given back twice', async () => {
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
          leaseTtlMs: 4000, // a loaded machine can stall a renewal (etcd's fsync) past a second
        },
      });
    writeFileSync(join(dir, 'a.json'), config(listenA, proxyPort));
    writeFileSync(join(dir, 'b.json'), config(listenB, listenA));
    const member = (name: 'a' | 'b'): Member => {
      const socket = join(dir, `${name}.sock`);
      return {
        name,
        node: role(`node-${name}`, [
          'serve',
          join(dir, `${name}.nvram`),
          '--socket',
          socket,
          '--config',
          join(dir, `${name}.json`),
          '--log-format',
          'json',
        ]),
        tail: role(`tail-${name}`, ['tail', '--socket', socket, '--name', 'pager']),
        // bursts of 20 (restarted below: a few dozen events a second, so that seven processes
        // and etcd keep up on a loaded machine); a partner down refuses its acks (mirror
        // required): the producer exits early
        producer: role(`emit-${name}`, [
          'emit',
          '--socket',
          socket,
          '--type',
          'disk.failed',
          '--severity',
          'err',
          '--count',
          '20',
          '--window',
          '2',
        ]),
        id: '',
      };
    };
    const pair = [member('a'), member('b')] as const;
    const [a, b] = pair;
    const listenings = (m: Member): number =>
      m.node.lines.filter((line) => line.includes('"listening"')).length;
    const takeovers = (m: Member): number =>
      m.node.lines.filter((line) => line.includes('takeover: done')).length;
    for (const m of pair) start(m.node);
    expect(await waitFor(() => pair.every((m) => listenings(m) > 0), 15_000)).toBe(true);
    for (const m of pair) {
      m.id = /"pair":"([0-9a-f]{16})"/.exec(m.node.lines.join('\n'))?.[1] ?? '';
      start(m.tail);
      start(m.producer);
    }
    const random = prng(20261205);
    // a producer that ended its burst, or was refused while its node's partner is away, is
    // started again (at most every 400 ms, while its node runs): each node keeps emitting
    // whenever its mirror lets it
    const started = new Map<Member, number>();
    const producing = setInterval(() => {
      for (const m of pair) {
        if (!m.producer.loop || m.producer.child !== null || m.node.child === null) continue;
        if (Date.now() - (started.get(m) ?? 0) < 400) continue;
        started.set(m, Date.now());
        start(m.producer);
      }
    }, 100);
    const acks = (m: Member): number => m.producer.lines.filter((l) => l.startsWith('A ')).length;
    const restarts: Restart[] = [];
    for (let round = 0; round < 3; round++) {
      // each node dies at least once, then the seed chooses
      const victim = round < 2 ? pair[round]! : pair[random() < 0.5 ? 0 : 1]!;
      const survivor = victim === a ? b : a;
      await sleep(300 + random() * 300);
      // the victim's recipient away: its events stay pending, owed to it, when it dies
      victim.tail.loop = false;
      victim.tail.child?.kill('SIGKILL');
      await sleep(400 + random() * 400);
      // and events acknowledged since: owed to it, mirrored, pending when it dies
      const owedFrom = acks(victim);
      await waitFor(() => acks(victim) >= owedFrom + 5, 5_000);
      if (round === 2) {
        proxy.partition(); // the interconnect cut: A's acks are refused until it heals
        await sleep(500);
        proxy.heal();
      }
      const before = takeovers(survivor);
      const up = listenings(victim);
      const survivorLinesAtKill = survivor.tail.lines.length;
      victim.node.child?.kill('SIGKILL');
      victim.node.kills++;
      // the survivor takes over once the victim's lease (4 s) has expired
      await waitFor(() => takeovers(survivor) > before, 15_000);
      await sleep(300);
      restarts.push({
        victim,
        survivor,
        survivorLinesAtKill,
        survivorLines: survivor.tail.lines.length,
        victimLines: victim.tail.lines.length,
      });
      start(victim.node);
      await waitFor(() => listenings(victim) > up, 15_000);
      victim.tail.loop = true;
      for (const m of pair) if (m.tail.child === null) start(m.tail);
    }
    await sleep(800);
    clearInterval(producing);
    for (const m of pair) {
      m.producer.loop = false;
      m.producer.child?.kill('SIGKILL');
    }
    await waitFor(() => pair.every((m) => m.producer.child === null), 5_000);

    const acked = new Set(
      pair.flatMap((m) =>
        m.producer.lines.flatMap((line) => {
          const match = /^A (\d+)$/.exec(line);
          return match === null ? [] : [`${m.id}:${match[1]}`];
        }),
      ),
    );
    const seen = (): Set<string> =>
      new Set(pair.flatMap((m) => deliveries(m.tail, m.id)).map((d) => d.key));
    const complete = await waitFor(() => [...acked].every((key) => seen().has(key)), 20_000);
    const missing = [...acked].filter((key) => !seen().has(key));
    const roles = pair.flatMap((m) => [m.node, m.tail]);
    for (const r of roles) {
      r.loop = false;
      r.child?.kill('SIGTERM');
    }
    await waitFor(() => roles.every((r) => r.child === null), 5_000);
    const report = pair.map((m) => `${m.name}: ${m.node.errors.join('').slice(0, 600)}`).join('\n');

    for (const m of pair) expect(m.id, report).toMatch(/^[0-9a-f]{16}$/);
    expect(a.node.kills + b.node.kills).toBe(3);
    for (const m of pair) {
      const acks = [...acked].filter((key) => key.startsWith(`${m.id}:`)).length;
      expect(acks, `${m.name} acknowledged\n${report}`).toBeGreaterThan(15);
    }
    const logged = (node: Role, msg: string): Record<string, unknown>[] =>
      node.lines
        .filter((line) => line.includes(`"msg":"${msg}"`))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    let released = 0;
    for (const victim of pair) {
      const survivor = victim === a ? b : a;
      const done = logged(survivor.node, 'takeover: done');
      expect(done.length, report).toBe(victim.node.kills); // one takeover a kill
      released += done.reduce((n, t) => n + Number(t['released']), 0);
      // each return's giveback retired at least what the survivor delivered of the victim's
      // stream that the victim had not delivered itself (what a lagging mirror still held as
      // pending, the victim had finished: the survivor's counted redeliveries, not retired)
      const givebacks = logged(victim.node, 'giveback: records the partner recorded');
      const returns = restarts.filter((r) => r.victim === victim);
      expect(givebacks.length, report).toBe(returns.length);
      returns.forEach((restart, j) => {
        const own = new Set(
          deliveries(victim.tail, victim.id)
            .filter((d) => d.at < restart.victimLines)
            .map((d) => d.key),
        );
        const owed = new Set(
          deliveries(survivor.tail, survivor.id)
            .filter((d) => d.at >= restart.survivorLinesAtKill && d.at < restart.survivorLines)
            .filter((d) => d.key.startsWith(`${victim.id}:`) && !own.has(d.key))
            .map((d) => d.key),
        );
        const retired = (givebacks[j]?.['retired'] as number[]).reduce((x, y) => x + y, 0);
        expect(retired, `${victim.name}'s giveback ${j}\n${report}`).toBeGreaterThanOrEqual(
          owed.size,
        );
      });
    }
    expect(released, report).toBeGreaterThan(0); // a survivor delivered its partner's events
    expect(missing.slice(0, 10), `missing of ${acked.size}\n${report}`).toEqual([]);
    expect(complete).toBe(true);
    // giveback: what the survivor delivered of the victim's stream before the victim came
    // back, the victim never delivers again (until it is killed once more)
    const again = restarts.flatMap((restart, k) => {
      const { victim, survivor } = restart;
      const bySurvivor = new Set(
        deliveries(survivor.tail, survivor.id)
          .filter((d) => d.at < restart.survivorLines && d.key.startsWith(`${victim.id}:`))
          .map((d) => d.key),
      );
      const next = restarts.slice(k + 1).find((r) => r.victim === victim);
      const until = next?.victimLines ?? Infinity;
      return deliveries(victim.tail, victim.id).filter(
        (d) => d.at >= restart.victimLines && d.at < until && bySurvivor.has(d.key),
      );
    });
    expect(again.map((d) => d.key)).toEqual([]);
    for (const m of pair) expect(deliveries(m.tail, m.id).length).toBeGreaterThan(0);
    proxy.close();
  }, 150_000);
});
