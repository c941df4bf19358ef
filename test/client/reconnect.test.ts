/**
 * src/client against a real daemon that is not always there: connect() to a daemon that starts
 * later resolves once it listens; a daemon stopping (GOODBYE SHUTDOWN) is reconnected to when
 * it is back; a confirmation given while the connection is down is not sent, and the event,
 * delivered again, is confirmed then; and a dead letter delivered again carries its original
 * seq.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { Client, connect, type RemoteEvent } from '../../src/client/client.js';
import { startDaemon, within, type TestDaemon } from '../daemon/harness.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nvrelay-reconnect-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function daemon(dir: string, config: unknown = {}): Promise<TestDaemon> {
  const started = await startDaemon({ dir, config });
  cleanups.push(() => started.stop());
  return started;
}

async function until(what: string, condition: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('a client whose daemon comes and goes', () => {
  test('connect() before the daemon listens resolves once it does', async () => {
    const dir = tempDir();
    const c = new Client(`unix:${join(dir, 'd.sock')}`, { reconnectMs: { first: 10, max: 20 } });
    cleanups.push(() => c.close());
    const connected = c.connected();
    await until('a few refused attempts', () => c.reconnects >= 2);
    const t = await daemon(dir);
    await within(connected, 5_000, 'connected()');
    expect(c.reconnects).toBeGreaterThan(0);
    expect(await c.producer('raid').emit('disk.failed', 'err')).toBe(
      t.daemon.node.stats().counters.emitted,
    );
  });

  test('a confirmation while the daemon is away is not sent; the event comes again and is confirmed then', async () => {
    const dir = tempDir();
    const config = { recipients: { audit: {} } };
    let t = await daemon(dir, config);
    const c = await connect(`unix:${t.socket}`, { reconnectMs: { first: 10, max: 20 } });
    cleanups.push(() => c.close());
    const seen: RemoteEvent[] = [];
    const audit = await c.subscribe('audit', {}, (event) => seen.push(event));
    const seq = t.daemon.node.producer('raid').emit('disk.failed', 'err', null);
    await until('the delivery', () => seen.length === 1);
    await t.stop(); // GOODBYE SHUTDOWN: the client reconnects, and keeps trying
    await until('the client to try again', () => c.reconnects > 0);
    audit.confirm(seq); // no connection: nothing is sent
    t = await daemon(dir, config);
    await until('the delivery again', () => seen.length === 2);
    expect(seen.map((event) => event.seq)).toEqual([seq, seq]);
    const recipient = () => t.daemon.node.engine.recipients.find((r) => r?.name === 'audit');
    expect(recipient()?.confirmed).toBe(0); // the confirmation given while away never arrived
    audit.confirm(seq);
    await until('the confirmation', () => recipient()?.confirmed === 1);
    expect(c.reconnects).toBeGreaterThan(0);
  });

  test('a dead letter delivered again carries the seq it was first recorded under', async () => {
    const dir = tempDir();
    const t = await daemon(dir, {
      recipients: { audit: { retry: { timeoutMs: 30, timeoutMaxMs: 30, attemptsMax: 1 } } },
    });
    const c = await connect(`unix:${t.socket}`, { reconnectMs: { first: 10, max: 20 } });
    cleanups.push(() => c.close());
    const seen: RemoteEvent[] = [];
    const audit = await c.subscribe('audit', {}, (event) => {
      seen.push(event);
      if (event.originalSeq !== 0) audit.confirm(event.seq);
    });
    const seq = t.daemon.node.producer('raid').emit('disk.failed', 'err', null);
    await until('the dead letter', () => t.daemon.node.deadLetterList().length === 1);
    expect(seen[0]).toMatchObject({ seq, originalSeq: 0 });
    expect(t.daemon.node.redeliverDeadLetters()).toBe(1);
    await until('the redelivery', () => seen.length === 2);
    expect(seen[1]?.originalSeq).toBe(seq);
    expect(seen[1]?.seq).toBeGreaterThan(seq);
  });
});
