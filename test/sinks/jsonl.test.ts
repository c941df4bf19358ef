/**
 * The jsonl sink inside a daemon (src/sinks/jsonl.ts): every event reaches the file as one line
 * and is confirmed only after the batch's fdatasync; a torn last line left by a crash is cut off
 * when the sink opens the file; the file rotates by size, keeping `keep` older files, every line
 * whole; a file that cannot be written leaves the events owed (the sink is down) until it can.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { startDaemon, type TestDaemon } from '../daemon/harness.js';

let running: TestDaemon | null = null;
afterEach(async () => {
  await running?.remove();
  running = null;
});

async function until(condition: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function lines(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  expect(text === '' || text.endsWith('\n')).toBe(true);
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function daemonWithSink(sink: Record<string, unknown>, dir?: string): Promise<TestDaemon> {
  running = await startDaemon({
    config: { sinks: { file: { kind: 'jsonl', retry: { timeoutMs: 50 }, ...sink } } },
    ...(dir !== undefined ? { dir } : {}),
  });
  return running;
}

describe('the jsonl sink', () => {
  test('every event is one line, confirmed after it is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvrelay-jsonl-'));
    const path = join(dir, 'events.jsonl');
    const { daemon } = await daemonWithSink({ path }, dir);
    const producer = daemon.node.producer('disk');
    const seqs: number[] = [];
    for (let k = 0; k < 100; k++)
      seqs.push(
        producer.emit('disk.failed', 'err', new TextEncoder().encode(JSON.stringify({ k }))),
      );
    seqs.push(producer.emit('disk.raw', 'info', new Uint8Array([0xff, 0x00, 0x7f])));
    const sink = daemon.sinks[0]!;
    await until(() => sink.recipient.confirmed === seqs.length);
    const written = lines(path);
    expect(written.map((line) => line['seq'])).toEqual(seqs);
    expect(written[0]).toMatchObject({
      source: 'disk',
      type: 'disk.failed',
      severity: 'err',
      details: { k: 0 },
    });
    expect(written[0]!['node']).toMatch(/^[0-9a-f]{16}$/);
    expect(written[100]!['detailsBase64']).toBe(Buffer.from([0xff, 0x00, 0x7f]).toString('base64'));
    expect(sink.status()).toMatchObject({ kind: 'jsonl', state: 'up', queued: 0 });
    expect(sink.counters.batches).toBeLessThan(seqs.length); // batched, not one fdatasync each
  });

  test('a torn last line is cut off when the sink opens the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvrelay-jsonl-'));
    const path = join(dir, 'events.jsonl');
    writeFileSync(path, '{"seq":1}\n{"seq":2,"tor');
    const { daemon } = await daemonWithSink({ path }, dir);
    const seq = daemon.node.producer('disk').emit('disk.failed', 'err', null);
    await until(() => daemon.sinks[0]!.recipient.confirmed === 1);
    expect(lines(path).map((line) => line['seq'])).toEqual([1, seq]);
  });

  test('a file that is one torn line, longer than a read, is cut to nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvrelay-jsonl-'));
    const path = join(dir, 'events.jsonl');
    // no newline anywhere: the search goes back read by read (64 KiB each) to the start
    writeFileSync(path, `{"seq":1,"torn":"${'x'.repeat(100_000)}`);
    const { daemon } = await daemonWithSink({ path }, dir);
    const seq = daemon.node.producer('disk').emit('disk.failed', 'err', null);
    await until(() => daemon.sinks[0]!.recipient.confirmed === 1);
    expect(lines(path).map((line) => line['seq'])).toEqual([seq]);
  });

  test('rotation by size keeps whole lines in every file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvrelay-jsonl-'));
    const path = join(dir, 'events.jsonl');
    const { daemon } = await daemonWithSink({ path, rotateBytes: 4096, keep: 2, batchMax: 8 }, dir);
    const producer = daemon.node.producer('disk');
    const details = new TextEncoder().encode(JSON.stringify({ pad: 'x'.repeat(100) }));
    for (let k = 0; k < 200; k++) {
      producer.emit('disk.failed', 'info', details);
      if (k % 20 === 19) await until(() => daemon.sinks[0]!.recipient.confirmed === k + 1);
    }
    await until(() => daemon.sinks[0]!.recipient.confirmed === 200);
    expect(existsSync(`${path}.1`)).toBe(true);
    expect(existsSync(`${path}.2`)).toBe(true);
    expect(existsSync(`${path}.3`)).toBe(false); // keep: 2
    const kept = [...lines(`${path}.2`), ...lines(`${path}.1`), ...lines(path)].map(
      (l) => l['seq'] as number,
    );
    for (let k = 1; k < kept.length; k++) expect(kept[k]).toBe((kept[k - 1] as number) + 1);
    expect(kept.at(-1)).toBe(daemon.node.stats().seqNext - 1);
  });

  test('an unwritable file: the events stay owed, and arrive once it can be written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nvrelay-jsonl-'));
    const blocked = join(dir, 'blocked');
    writeFileSync(blocked, ''); // a file where the sink wants a directory: ENOTDIR
    const path = join(blocked, 'events.jsonl');
    const { daemon } = await daemonWithSink({ path }, dir);
    const seq = daemon.node.producer('disk').emit('disk.failed', 'err', null);
    const sink = daemon.sinks[0]!;
    await until(() => sink.state === 'down' && sink.recipient.redelivered >= 1);
    expect(sink.recipient.confirmed).toBe(0);
    expect(sink.lastError).toMatch(/ENOTDIR/);
    rmSync(blocked);
    mkdirSync(blocked);
    await until(() => sink.recipient.confirmed === 1);
    expect(sink.state).toBe('up');
    expect(lines(path).map((line) => line['seq'])).toEqual([seq]);
  });
});
