/**
 * Stream leases (src/ha): one contract for both coordinators, the lease file and a real etcd
 * (./etcd-server.ts), with a TTL of 1 s: a holder is alone until its grant expires or is
 * released, the next grant's token is greater, `last` outlives both, a hung coordinator is a
 * typed error within the timeout, corrupt state is a typed error. The keeper is checked twice:
 * on a scripted clock (its deadline to the millisecond) and against both coordinators, where
 * a keeper cut off from the coordinator, or whose coordinator hangs, has stopped holding at the
 * moment a second holder's acquire succeeds.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { EtcdLeases } from '../../src/ha/etcd-lease.js';
import { FileLeases } from '../../src/ha/file-lease.js';
import {
  LeaseError,
  LeaseKeeper,
  type KeeperClock,
  type LeaseGrant,
  type LeaseLoss,
  type LeaseRecord,
  type StreamLeases,
} from '../../src/ha/lease.js';
import { etcdInstalled, startEtcd, type EtcdServer } from './etcd-server.js';
import { LeasesThrough } from './pair.js';

const ttlMs = 1000;
const timeoutMs = 300;
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A coordinator under test: clients of it, and ways to break it. */
interface Coordinator {
  /** A new client (one node's view of the coordinator). */
  open(): StreamLeases;
  /** Makes the coordinator stop answering, until `unhang`. */
  hang(): Promise<void>;
  unhang(): void;
  /** Stores something that is not a lease as `stream`'s last grant; returns where. */
  corrupt(stream: string): Promise<string>;
}

let streams = 0;
/** A stream no other test used (the etcd server is shared by the file's tests). */
function freshStream(): string {
  streams += 1;
  return `${(0x1000 + streams).toString(16)}`;
}

function fileCoordinator(): Coordinator {
  const dir = mkdtempSync(join(tmpdir(), 'nvrelay-lease-'));
  dirs.push(dir);
  const path = join(dir, 'leases.json');
  return {
    open: () => new FileLeases(path, { ttlMs, timeoutMs }),
    // a lock held by a process that runs (this one) and never lets go
    hang: async () => writeFileSync(`${path}.lock`, `${process.pid}\n`),
    unhang: () => rmSync(`${path}.lock`),
    corrupt: async () => {
      writeFileSync(path, '{"token": "7", "streams": ');
      return path;
    },
  };
}

let etcd: EtcdServer | null = null;
function etcdCoordinator(): Coordinator {
  const server = etcd;
  if (server === null) throw new Error('etcd not started');
  return {
    open: () => new EtcdLeases({ hosts: server.url, ttlMs, timeoutMs }),
    hang: async () => server.pause(),
    unhang: () => server.resume(),
    corrupt: async (stream) => {
      const client = new Etcd3({ hosts: server.url });
      const key = `/nvrelay/streams/${stream}/last`;
      await client.put(key).value('holder=a');
      client.close();
      return key;
    },
  };
}

const coordinators = [
  { name: 'the lease file', make: fileCoordinator, installed: true },
  { name: 'etcd', make: etcdCoordinator, installed: etcdInstalled },
];

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Tries `acquire` every 20 ms until it grants (or fails the test after `withinMs`). */
async function acquireWhenFree(
  leases: StreamLeases,
  stream: string,
  holder: string,
  withinMs: number,
  onGrant: () => void = () => undefined,
): Promise<LeaseGrant> {
  const give = performance.now() + withinMs;
  while (performance.now() < give) {
    const grant = await leases.acquire(stream, holder).catch((error: unknown) => {
      if (error instanceof LeaseError && error.code === 'LEASE_UNAVAILABLE') return null;
      throw error;
    });
    if (grant !== null) {
      onGrant();
      return grant;
    }
    await sleep(20);
  }
  throw new Error(`${holder} got no grant on ${stream} in ${withinMs} ms`);
}

/** A client whose renewals stop reaching the coordinator once `cut`: a partitioned holder. */
class Partitioned extends LeasesThrough {
  cutOff = false;
  override renew(grant: LeaseGrant): Promise<boolean> {
    return this.cutOff ? new Promise(() => undefined) : this.inner.renew(grant);
  }
}

describe.each(coordinators)('stream leases on $name', ({ name, make, installed }) => {
  let coordinator: Coordinator;
  const clients: StreamLeases[] = [];
  const keepers: LeaseKeeper[] = [];

  beforeAll(async () => {
    if (name === 'etcd' && installed) etcd = await startEtcd();
  });
  afterAll(async () => {
    if (name === 'etcd') await etcd?.stop();
  });
  afterEach(async () => {
    for (const keeper of keepers.splice(0)) keeper.stop();
    for (const client of clients.splice(0)) await client.close();
  });

  function open(): StreamLeases {
    coordinator ??= make();
    const client = coordinator.open();
    clients.push(client);
    return client;
  }

  test.skipIf(!installed)(
    'a lease has one holder: a second acquire, by anyone, gets null while it lasts',
    async () => {
      const [a, b] = [open(), open()];
      const stream = freshStream();
      const grant = await a.acquire(stream, 'a');
      expect(grant).toMatchObject({ stream, holder: 'a' });
      expect(grant?.token).toBeGreaterThan(0n);
      expect(await b.acquire(stream, 'b')).toBeNull();
      expect(await a.acquire(stream, 'a')).toBeNull();
      expect(await b.current(stream)).toEqual({ holder: 'a', token: grant?.token });
      expect(await b.last(stream)).toEqual({ holder: 'a', token: grant?.token });
      expect(await b.current(freshStream())).toBeNull();
      expect(await b.last(freshStream())).toBeNull();
    },
  );

  test.skipIf(!installed)(
    'of eight holders acquiring at once through their own clients, exactly one gets the grant',
    async () => {
      const stream = freshStream();
      const holders = Array.from({ length: 8 }, (_, index) => `h${index}`);
      const clients = holders.map(() => open());
      const grants = await Promise.all(
        holders.map((holder, index) => clients[index]?.acquire(stream, holder)),
      );
      const granted = grants.filter((grant) => grant !== null && grant !== undefined);
      expect(granted).toHaveLength(1);
      expect(await clients[0]?.current(stream)).toEqual({
        holder: granted[0]?.holder,
        token: granted[0]?.token,
      });
    },
  );

  test.skipIf(!installed)('renewals keep a grant past its TTL', async () => {
    const [a, b] = [open(), open()];
    const stream = freshStream();
    const grant = await a.acquire(stream, 'a');
    if (grant === null) throw new Error('no grant');
    for (let round = 0; round < 4; round++) {
      await sleep(ttlMs / 3);
      expect(await a.renew(grant), `round ${round}`).toBe(true);
    }
    expect(await b.acquire(stream, 'b')).toBeNull();
    expect(await b.current(stream)).toEqual({ holder: 'a', token: grant.token });
  });

  test.skipIf(!installed)(
    'a grant not renewed expires; last still names it, and the takeover has a greater token',
    async () => {
      const [a, b] = [open(), open()];
      const stream = freshStream();
      const started = performance.now();
      const grant = await a.acquire(stream, 'a');
      if (grant === null) throw new Error('no grant');
      const give = performance.now() + 4 * ttlMs;
      while ((await b.current(stream)) !== null && performance.now() < give) await sleep(20);
      expect(await b.current(stream)).toBeNull();
      expect(performance.now() - started).toBeGreaterThanOrEqual(ttlMs - 50);
      expect(await b.last(stream)).toEqual({ holder: 'a', token: grant.token });
      expect(await a.renew(grant)).toBe(false);

      const takeover = await acquireWhenFree(b, stream, 'b', ttlMs);
      expect(takeover.token).toBeGreaterThan(grant.token);
      expect(await a.renew(grant)).toBe(false);
      expect(await a.current(stream)).toEqual({ holder: 'b', token: takeover.token });
      expect(await a.last(stream)).toEqual({ holder: 'b', token: takeover.token });
    },
  );

  test.skipIf(!installed)(
    'release frees the stream at once, twice is harmless, and a stale grant releases nothing',
    async () => {
      const [a, b] = [open(), open()];
      const stream = freshStream();
      const first = await a.acquire(stream, 'a');
      if (first === null) throw new Error('no grant');
      await a.release(first);
      await a.release(first);
      expect(await b.current(stream)).toBeNull();
      expect(await b.last(stream)).toEqual({ holder: 'a', token: first.token });
      expect(await a.renew(first)).toBe(false);

      const second = await b.acquire(stream, 'b');
      expect(second?.token).toBeGreaterThan(first.token);
      await a.release(first); // the earlier grant's release leaves the new one alone
      expect(await a.current(stream)).toEqual({ holder: 'b', token: second?.token });
      if (second === null) throw new Error('no grant');
      await b.release(second);
      const third = await a.acquire(stream, 'a'); // the same holder again: a new, greater token
      expect(third?.token).toBeGreaterThan(second.token);
      expect(await b.last(stream)).toEqual({ holder: 'a', token: third?.token });
    },
  );

  test.skipIf(!installed)(
    'a keeper cut off from the coordinator has stopped holding when another holder acquires',
    async () => {
      const a = new Partitioned(open());
      const b = open();
      const stream = freshStream();
      const losses: { reason: LeaseLoss; at: number }[] = [];
      const keeper = await LeaseKeeper.acquire(a, stream, 'a', {
        onLost: (reason) => losses.push({ reason, at: performance.now() }),
      });
      if (keeper === null) throw new Error('no grant');
      keepers.push(keeper);
      await sleep(ttlMs); // renewals answered: it holds past the first TTL
      expect(keeper.held()).toBe(true);
      expect(await b.acquire(stream, 'b')).toBeNull();

      a.cutOff = true;
      let heldAtTakeover: boolean | null = null;
      const cutAt = performance.now();
      const takeover = await acquireWhenFree(b, stream, 'b', 3 * ttlMs, () => {
        heldAtTakeover = keeper.held();
      });
      const takenAt = performance.now();
      expect(heldAtTakeover).toBe(false);
      expect(losses).toHaveLength(1);
      expect(losses[0]?.reason).toBe('expired');
      expect(losses[0]?.at).toBeLessThan(takenAt);
      expect(losses[0]?.at).toBeLessThan(cutAt + ttlMs); // within a TTL of the last renewal
      expect(takeover.token).toBeGreaterThan(keeper.grant.token);
    },
  );

  test.skipIf(!installed)(
    'a keeper whose coordinator hangs stops holding by its deadline, says so once, and is not the holder after',
    async () => {
      const a = open();
      const b = open();
      const stream = freshStream();
      const losses: LeaseLoss[] = [];
      const keeper = await LeaseKeeper.acquire(a, stream, 'a', {
        onLost: (reason) => losses.push(reason),
      });
      if (keeper === null) throw new Error('no grant');
      keepers.push(keeper);
      await sleep(ttlMs / 2);
      await coordinator.hang();
      const hungAt = performance.now();
      try {
        while (keeper.held() && performance.now() < hungAt + 2 * ttlMs) await sleep(10);
        expect(keeper.held()).toBe(false);
        expect(performance.now() - hungAt).toBeLessThan(ttlMs);
        expect(losses).toEqual(['expired']);
      } finally {
        coordinator.unhang();
      }
      let heldAtTakeover: boolean | null = null;
      const takeover = await acquireWhenFree(b, stream, 'b', 3 * ttlMs, () => {
        heldAtTakeover = keeper.held();
      });
      expect(heldAtTakeover).toBe(false);
      expect(takeover.token).toBeGreaterThan(keeper.grant.token);
      await sleep(ttlMs / 3); // renewals that were waiting have answered by now
      expect(losses).toEqual(['expired']);
    },
  );

  test.skipIf(!installed)(
    'a coordinator that hangs makes every call fail with LEASE_UNAVAILABLE within the timeout',
    async () => {
      const a = open();
      const stream = freshStream();
      const grant = await a.acquire(stream, 'a');
      if (grant === null) throw new Error('no grant');
      await coordinator.hang();
      try {
        const calls: [string, () => Promise<unknown>][] = [
          ['acquire', () => a.acquire(freshStream(), 'a')],
          ['renew', () => a.renew(grant)],
          ['release', () => a.release(grant)],
        ];
        if (name === 'etcd') {
          // the lease file's reads take no lock: they do not wait for its holder
          calls.push(['current', () => a.current(stream)], ['last', () => a.last(stream)]);
        }
        for (const [call, run] of calls) {
          const started = performance.now();
          const error: unknown = await run().then(
            () => null,
            (failure: unknown) => failure,
          );
          expect(error, call).toBeInstanceOf(LeaseError);
          expect((error as LeaseError).code, call).toBe('LEASE_UNAVAILABLE');
          expect(performance.now() - started, call).toBeLessThan(timeoutMs + 400);
        }
      } finally {
        coordinator.unhang();
      }
      expect(await a.last(stream)).toEqual({ holder: 'a', token: grant.token }); // answers again
    },
  );

  test.skipIf(!installed)(
    'corrupt lease state is LEASE_CORRUPT naming where it is, and stays as it was',
    async () => {
      const a = open();
      const stream = freshStream();
      const where = await coordinator.corrupt(stream);
      const error: unknown = await a.last(stream).then(
        () => null,
        (failure: unknown) => failure,
      );
      expect(error).toBeInstanceOf(LeaseError);
      expect((error as LeaseError).code).toBe('LEASE_CORRUPT');
      expect((error as LeaseError).message).toContain(where);
      await expect(a.last(stream)).rejects.toMatchObject({ code: 'LEASE_CORRUPT' });
    },
  );

  test.skipIf(!installed)('calls after close are refused with LEASE_CLOSED', async () => {
    const a = open();
    await a.close();
    await expect(a.acquire(freshStream(), 'a')).rejects.toMatchObject({ code: 'LEASE_CLOSED' });
    await expect(a.current(freshStream())).rejects.toMatchObject({ code: 'LEASE_CLOSED' });
  });
});

describe('the lease file', () => {
  function leaseFile(): string {
    const dir = mkdtempSync(join(tmpdir(), 'nvrelay-lease-'));
    dirs.push(dir);
    return join(dir, 'leases.json');
  }

  test('content of the wrong shape is LEASE_CORRUPT naming the path, and is not reset', async () => {
    const path = leaseFile();
    const leases = new FileLeases(path, { ttlMs, timeoutMs });
    const wrong = [
      '[]',
      '{"streams": {}}',
      '{"token": 3, "streams": {}}',
      '{"token": "3", "streams": {"s": {"current": null}}}',
      '{"token": "3", "streams": {"s": {"current": {"holder": "a", "token": "3"}, "last": {"holder": "a", "token": "3"}}}}',
      '{"token": "2", "streams": {"s": {"current": null, "last": {"holder": "a", "token": "3"}}}}',
    ];
    for (const text of wrong) {
      writeFileSync(path, text);
      await expect(leases.acquire('s', 'b'), text).rejects.toMatchObject({
        code: 'LEASE_CORRUPT',
        message: expect.stringContaining(path),
      });
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
    expect(readdirSync(join(path, '..'))).toEqual(['leases.json']); // no lock, no temp file left
  });

  test('a lock left by a process that died is broken; one a live process holds is waited for', async () => {
    const path = leaseFile();
    const leases = new FileLeases(path, { ttlMs, timeoutMs });
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeFileSync(`${path}.lock`, `${dead}\n`);
    expect(await leases.acquire('s', 'a')).toMatchObject({ holder: 'a', token: 1n });

    writeFileSync(`${path}.lock`, `${process.pid}\n`);
    setTimeout(() => rmSync(`${path}.lock`), timeoutMs / 2);
    expect(await leases.acquire('t', 'a')).toMatchObject({ holder: 'a', token: 2n });
  });

  test('tokens increase across the streams of one file, and it reads back the same', async () => {
    const path = leaseFile();
    const leases = new FileLeases(path, { ttlMs, timeoutMs });
    const x = await leases.acquire('x', 'a');
    const y = await leases.acquire('__proto__', 'b');
    expect([x?.token, y?.token]).toEqual([1n, 2n]);
    const again = new FileLeases(path, { ttlMs, timeoutMs });
    expect(await again.current('x')).toEqual({ holder: 'a', token: 1n });
    expect(await again.last('__proto__')).toEqual({ holder: 'b', token: 2n });
    expect(await again.acquire('__proto__', 'c')).toBeNull();
    expect(readdirSync(join(path, '..'))).toEqual(['leases.json']);
  });
});

/** Timers run by `advance`, in order of due time, with the promises they start settled. */
class ScriptedClock implements KeeperClock {
  time = 0;
  protected timers = new Map<number, { due: number; callback: () => void }>();
  protected nextId = 1;
  now(): number {
    return this.time;
  }
  setTimer(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { due: this.time + ms, callback });
    return id;
  }
  clearTimer(timer: unknown): void {
    this.timers.delete(timer as number);
  }
  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    for (;;) {
      const due = [...this.timers].sort(([, x], [, y]) => x.due - y.due)[0];
      if (due === undefined || due[1].due > until) break;
      this.timers.delete(due[0]);
      this.time = due[1].due;
      due[1].callback();
      await settle();
    }
    this.time = until;
    await settle();
  }
}

async function settle(): Promise<void> {
  for (let turn = 0; turn < 10; turn++) await Promise.resolve();
}

/** A coordinator whose renewals the test answers, one by one. */
class ScriptedLeases implements StreamLeases {
  readonly ttlMs = 900;
  renewals: { sentAt: number; answer: (renewed: boolean) => void }[] = [];
  released: LeaseGrant[] = [];
  constructor(protected readonly clock: ScriptedClock) {}
  async acquire(stream: string, holder: string): Promise<LeaseGrant | null> {
    return { stream, holder, token: 5n };
  }
  renew(): Promise<boolean> {
    return new Promise((answer) => this.renewals.push({ sentAt: this.clock.now(), answer }));
  }
  async release(grant: LeaseGrant): Promise<void> {
    this.released.push(grant);
  }
  async current(): Promise<LeaseRecord | null> {
    return null;
  }
  async last(): Promise<LeaseRecord | null> {
    return null;
  }
  async close(): Promise<void> {}
}

describe('the lease keeper, on a scripted clock', () => {
  async function keep(clock: ScriptedClock, leases: ScriptedLeases, losses: LeaseLoss[]) {
    clock.time = 1000;
    const keeper = await LeaseKeeper.acquire(leases, 's', 'a', {
      clock,
      onLost: (reason) => losses.push(reason),
    });
    if (keeper === null) throw new Error('no grant');
    return keeper;
  }

  test('it renews every ttlMs/3 and holds while renewals are answered', async () => {
    const clock = new ScriptedClock();
    const leases = new ScriptedLeases(clock);
    const losses: LeaseLoss[] = [];
    const keeper = await keep(clock, leases, losses);
    for (let round = 1; round <= 9; round++) {
      await clock.advance(300);
      expect(leases.renewals.map((renewal) => renewal.sentAt)).toHaveLength(round);
      expect(leases.renewals[round - 1]?.sentAt).toBe(1000 + 300 * round);
      leases.renewals[round - 1]?.answer(true);
      await settle();
      expect(keeper.held()).toBe(true);
    }
    expect(keeper.deadline).toBe(1000 + 2700 + 900 - 225);
    expect(losses).toEqual([]);
  });

  test('unanswered, it stops holding exactly at sentAt + ttl - margin, without waiting for a timer', async () => {
    const clock = new ScriptedClock();
    const leases = new ScriptedLeases(clock);
    const losses: LeaseLoss[] = [];
    const keeper = await keep(clock, leases, losses);
    clock.time = 1000 + 675 - 1; // no timer ran: held() reads the clock itself
    expect(keeper.held()).toBe(true);
    clock.time = 1000 + 675;
    expect(keeper.held()).toBe(false);
    expect(losses).toEqual(['expired']);
    expect(keeper.held()).toBe(false);
    expect(losses).toEqual(['expired']);
  });

  test('the deadline timer reports the loss when nobody asks', async () => {
    const clock = new ScriptedClock();
    const leases = new ScriptedLeases(clock);
    const losses: LeaseLoss[] = [];
    await keep(clock, leases, losses);
    await clock.advance(674);
    expect(losses).toEqual([]);
    await clock.advance(1);
    expect(losses).toEqual(['expired']);
    await clock.advance(5000);
    expect(leases.renewals).toHaveLength(1); // at 1300; none while it is in flight, none after
  });

  test('a late answer extends from when its renewal was sent, and one after the deadline revives nothing', async () => {
    const clock = new ScriptedClock();
    const leases = new ScriptedLeases(clock);
    const losses: LeaseLoss[] = [];
    const keeper = await keep(clock, leases, losses);
    await clock.advance(300); // renewal sent at 1300
    await clock.advance(300); // 1600: the first is in flight, no second one
    expect(leases.renewals).toHaveLength(1);
    leases.renewals[0]?.answer(true);
    await settle();
    expect(keeper.deadline).toBe(1300 + 675);
    await clock.advance(300); // 1900: renewal sent
    await clock.advance(75); // 1975: its answer has not come
    expect(keeper.held()).toBe(false);
    leases.renewals[1]?.answer(true);
    await settle();
    expect(keeper.held()).toBe(false);
    expect(losses).toEqual(['expired']);
  });

  test('a renewal refused by the coordinator is a loss, "taken", reported once', async () => {
    const clock = new ScriptedClock();
    const leases = new ScriptedLeases(clock);
    const losses: LeaseLoss[] = [];
    const keeper = await keep(clock, leases, losses);
    await clock.advance(300);
    leases.renewals[0]?.answer(false);
    await settle();
    expect(keeper.held()).toBe(false);
    await clock.advance(2000);
    expect(losses).toEqual(['taken']);
  });

  test('release gives the grant back and is not reported as a loss', async () => {
    const clock = new ScriptedClock();
    const leases = new ScriptedLeases(clock);
    const losses: LeaseLoss[] = [];
    const keeper = await keep(clock, leases, losses);
    await keeper.release();
    expect(keeper.held()).toBe(false);
    expect(leases.released).toEqual([keeper.grant]);
    await clock.advance(5000);
    expect(leases.renewals).toHaveLength(0);
    expect(losses).toEqual([]);
  });
});
