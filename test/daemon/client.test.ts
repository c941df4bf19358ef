/**
 * The daemon through its client (src/client): emit and subscribe, a config's declared recipients,
 * strict names, re-sent emits recognised after a daemon restart, a reconnecting recipient given
 * again what it had not confirmed, and the config's mistakes reported with their paths.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, test } from 'vitest';
import { ClientError, connect, type Client, type RemoteEvent } from '../../src/client/client.js';
import { parseConfig } from '../../src/daemon/config.js';
import { FrameType } from '../../src/wire/frames.js';
import { RawConnection, cliMain, startDaemon, type TestDaemon } from './harness.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function daemonWith(config: unknown = {}, dir?: string): Promise<TestDaemon> {
  const daemon = await startDaemon({ config, ...(dir !== undefined ? { dir } : {}) });
  cleanups.push(() => daemon.stop());
  return daemon;
}

async function client(daemon: TestDaemon): Promise<Client> {
  const c = await connect(`unix:${daemon.socket}`, { reconnectMs: { first: 10, max: 100 } });
  cleanups.push(() => c.close());
  return c;
}

function collector(): { seen: RemoteEvent[]; until: (n: number) => Promise<void> } {
  const seen: RemoteEvent[] = [];
  return {
    seen,
    until: async (n) => {
      const deadline = Date.now() + 5_000;
      while (seen.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    },
  };
}

describe('emit and subscribe across the socket', () => {
  test('a declared recipient gets what was emitted before it ever connected, in order, and its filter holds', async () => {
    const daemon = await daemonWith({ recipients: { disks: { prefixes: ['disk.'] } } });
    const producer = (await client(daemon)).producer('raid');
    const seqs = [
      await producer.emit('disk.failed', 'err', 'one'),
      await producer.emit('net.down', 'err', 'skipped'),
      await producer.emit('disk.failed', 'warning', 'two'),
    ];
    const { seen, until } = collector();
    await (
      await client(daemon)
    ).subscribe('disks', { prefixes: ['net.'] }, (event, r) => {
      seen.push(event);
      r.confirm(event.seq);
    });
    await until(2);
    // the config's subscription wins over the frame's
    expect(seen.map((e) => [e.seq, e.type, new TextDecoder().decode(e.details)])).toEqual([
      [seqs[0], 'disk.failed', 'one'],
      [seqs[2], 'disk.failed', 'two'],
    ]);
  });

  test('a refusal is a typed error; a strict config refuses an undeclared name', async () => {
    const daemon = await daemonWith({ strictRecipients: true, recipients: { audit: {} } });
    const c = await client(daemon);
    const tooLarge = new Uint8Array(c.detailsBytesMax + 1);
    await expect(c.producer('p').emit('a.b', 'err', tooLarge)).rejects.toMatchObject({
      code: 'EVENT_TOO_LARGE',
    });
    await expect(c.subscribe('stranger', {}, () => {})).rejects.toBeInstanceOf(ClientError);
    await expect(c.subscribe('stranger2', {}, () => {})).rejects.toMatchObject({
      code: 'RECIPIENT_UNKNOWN',
    });
  });

  test('a recipient that reconnects gets again, in order, what it had not confirmed', async () => {
    const daemon = await daemonWith({ recipients: { audit: {} } });
    const producer = (await client(daemon)).producer('raid');
    const seqs: number[] = [];
    for (let k = 0; k < 4; k++) seqs.push(await producer.emit('disk.failed', 'err'));
    const first = collector();
    const holder = await client(daemon);
    await holder.subscribe('audit', {}, (event, r) => {
      first.seen.push(event);
      if (event.seq === seqs[0]) r.confirm(event.seq); // confirms only the first
    });
    await first.until(4);
    holder.close();
    const again = collector();
    await (
      await client(daemon)
    ).subscribe('audit', {}, (event, r) => {
      again.seen.push(event);
      r.confirm(event.seq);
    });
    await again.until(3);
    expect(again.seen.map((e) => e.seq)).toEqual(seqs.slice(1));
  });
});

describe('re-sent emits', () => {
  test('after a daemon restart, an emit sent again with its counter gets its first seq; nothing is recorded twice', async () => {
    const first = await daemonWith({ recipients: { audit: {} } });
    const c = await client(first);
    const producer = c.producer('raid');
    const seq = await producer.emit('disk.failed', 'err', 'once');
    await first.stop();
    c.close();
    // the client whose ack was lost reconnects: it claims with its own next counter and sends the
    // emit again under counter 1 (raw frames: the client does exactly this after a reconnect)
    const second = await daemonWith({ recipients: { audit: {} } }, first.dir);
    const raw = await RawConnection.open({ path: second.socket });
    cleanups.push(() => raw.destroy());
    await raw.hello();
    raw.sendFrame({ type: FrameType.claim, requestId: 1, producer: 'raid', resume: 2 });
    const claimed = await raw.waitFor((f) => f.type === FrameType.claimed);
    expect(claimed).toMatchObject({ handle: 0, nextCounter: 2 });
    const emit = {
      type: FrameType.emit,
      handle: 0,
      severity: 3,
      eventType: 'disk.failed',
    } as const;
    raw.sendFrame({ ...emit, requestId: 2, counter: 1, details: new TextEncoder().encode('once') });
    raw.sendFrame({ ...emit, requestId: 3, counter: 2, details: new TextEncoder().encode('new') });
    const ack = (id: number) => raw.waitFor((f) => f.type === FrameType.ack && f.requestId === id);
    expect(await ack(2)).toMatchObject({ seq });
    const fresh = (await ack(3)) as { seq: number };
    expect(fresh.seq).toBeGreaterThan(seq);
    expect(second.daemon.node.stats().counters.emitted).toBe(1); // only the new one was recorded
  });
});

describe('the config file', () => {
  test('every mistake is reported with its path, all at once', () => {
    expect(() =>
      parseConfig(
        { recipients: { audit: { retry: { attemptsMax: 0 } } }, heartbeatMs: 'x', bogus: 1 },
        'cfg.json',
      ),
    ).toThrow(
      /cfg\.json: 3 mistakes:\n {2}recipients\.audit\.retry\.attemptsMax: .*\n {2}heartbeatMs: .*\n {2}\(top level\): Unrecognized key: "bogus"/,
    );
    expect(() => parseConfig({ recipients: { 'bad name': {} } })).toThrow(/recipients\.bad name/);
    // a URL of the right scheme that does not parse is a mistake here, not a TypeError later
    for (const sink of [
      { kind: 'redis-stream', url: 'redis://[::1', stream: 's' },
      { kind: 'webhook', url: 'http://[bad' },
    ])
      expect(() => parseConfig({ sinks: { out: sink } })).toThrow(
        /sinks\.out\.url: a URL that parses/,
      );
  });

  test('serve with a bad config exits 1 with the mistakes and creates no device', async () => {
    const { dir } = await daemonWith();
    const config = join(dir, 'bad.json');
    await import('node:fs').then((fs) => fs.writeFileSync(config, '{"inFlightMax": -1}'));
    const device = join(dir, 'never.nvram');
    const result = spawnSync(process.execPath, [cliMain, 'serve', device, '--config', config], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/inFlightMax: Too small/);
    expect(existsSync(device)).toBe(false);
  });
});
